/*
 * attitude.c - attitude evidence, score and loyalty type.
 *
 * Evidence is kept as counts that halve every attitude_half_life_days, all
 * expressed as of one time (att_as_of_ms): a newer piece moves that time
 * forward and scales the counts down, an older one is added already
 * decayed.  So the counts only change when evidence arrives, and the score
 * at any later time is one multiplication away.
 */
#include "state/model/attitude.h"

#include <math.h>

#include "base/numfmt.h"

/* Evidence giving 63% of its part of the score. */
static const double att_scale[AT__COUNT] = {
    [AT_RATED] = 2,  [AT_HIGH] = 2,     [AT_SHARED] = 1,
    [AT_PRAISE] = 1, [AT_INTEREST] = 2, [AT_RIVAL] = 1,
};

static double decay(const struct model_config *cfg, int64_t dt_ms)
{
    return dt_ms <= 0 ? 1.0
                      : pow(0.5, (double)dt_ms /
                                     ((double)CU_DAY_MS * cfg->attitude_half_life_days));
}

static double sat(double v, double scale)
{
    return v <= 0 ? 0 : 1.0 - exp(-v / scale);
}

void att_add(struct customer *c, const struct model_config *cfg, enum att_kind k,
             int64_t ts_ms)
{
    if (ts_ms > c->att_as_of_ms) {
        double f = decay(cfg, ts_ms - c->att_as_of_ms);
        for (int i = 0; i < AT__COUNT; i++) {
            c->att[i] = numfmt_q6(c->att[i] * f);
        }
        c->att_as_of_ms = ts_ms;
    }
    c->att[k] = numfmt_q6(c->att[k] + decay(cfg, c->att_as_of_ms - ts_ms));
}

void att_evaluate(const struct customer *c, const struct model_config *cfg,
                  int64_t now_ms, struct att_view *v)
{
    double f = decay(cfg, now_ms - c->att_as_of_ms), wsum = 0, pos = 0;

    for (int i = 0; i < AT__COUNT; i++) {
        v->ev[i] = c->att[i] * f;
        v->part[i] = 0;
    }
    v->high_share = v->ev[AT_RATED] > 0 ? fmin(1.0, v->ev[AT_HIGH] / v->ev[AT_RATED]) : 0;
    for (int i = AT_RATED; i < AT_RIVAL; i++) {
        wsum += i == AT_HIGH ? 0 : cfg->att_weight[i];
    }
    if (wsum > 0) {
        v->part[AT_RATED] =
            cfg->att_weight[AT_RATED] / wsum * v->high_share * sat(v->ev[AT_RATED], 2);
        for (int i = AT_SHARED; i < AT_RIVAL; i++) {
            v->part[i] = cfg->att_weight[i] / wsum * sat(v->ev[i], att_scale[i]);
            pos += v->part[i];
        }
        pos += v->part[AT_RATED];
    }
    v->part[AT_RIVAL] =
        cfg->att_weight[AT_RIVAL] * sat(v->ev[AT_RIVAL], att_scale[AT_RIVAL]);
    v->score = numfmt_q6(fmax(0.0, fmin(1.0, pos - v->part[AT_RIVAL])));
}

enum loyalty_type att_type(const struct model_config *cfg, double attitude, int buying)
{
    int attached = attitude >= cfg->attitude_attached;

    if (attached) {
        return buying ? LT_TRUE : LT_LATENT;
    }
    return buying ? LT_SPURIOUS : LT_NONE;
}
