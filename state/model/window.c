/*
 * window.c - day buckets for the rolling windows; kept sorted by day.
 */
#include "state/model/window.h"

#include <string.h>

#include "base/satint.h"

struct cu_day *win_find(struct customer *c, int32_t day)
{
    for (uint32_t i = 0; i < c->ndays; i++) {
        if (c->days[i].day == day) {
            return &c->days[i];
        }
    }
    return NULL;
}

static void drop(struct customer *c, uint32_t i)
{
    memmove(&c->days[i], &c->days[i + 1], (c->ndays - i - 1) * sizeof(c->days[0]));
    c->ndays--;
}

static struct cu_day *insert(struct customer *c, int32_t day)
{
    uint32_t i = 0;

    while (i < c->ndays && c->days[i].day < day) {
        i++;
    }
    if (c->ndays == CU_DAYS_MAX) {
        /* Only possible if now_day moved backwards; keep the newest days. */
        if (i == 0) {
            return NULL;
        }
        drop(c, 0);
        i--;
    }
    memmove(&c->days[i + 1], &c->days[i], (c->ndays - i) * sizeof(c->days[0]));
    c->ndays++;
    memset(&c->days[i], 0, sizeof(c->days[i]));
    c->days[i].day = day;
    return &c->days[i];
}

int win_add(struct customer *c, int32_t now_day, int32_t day, const struct cu_day *delta)
{
    struct cu_day *b;

    if (day <= now_day - WIN_DAYS) {
        return -1;
    }
    b = win_find(c, day);
    if (!b && !(b = insert(c, day))) {
        return -1;
    }
    b->orders += delta->orders;
    b->spend_cents = sat_add(b->spend_cents, delta->spend_cents);
    b->refund_cents = sat_add(b->refund_cents, delta->refund_cents);
    b->margin_cents = sat_add(b->margin_cents, delta->margin_cents);
    b->costed += delta->costed;
    if (b->orders == 0 && b->spend_cents == 0 && b->refund_cents == 0 &&
        b->margin_cents == 0 && b->costed == 0) {
        drop(c, (uint32_t)(b - c->days));
    }
    return 0;
}

void win_prune(struct customer *c, int32_t now_day)
{
    uint32_t k = 0;

    while (k < c->ndays && c->days[k].day <= now_day - WIN_DAYS) {
        k++;
    }
    if (k > 0) {
        memmove(&c->days[0], &c->days[k], (c->ndays - k) * sizeof(c->days[0]));
        c->ndays -= k;
    }
}

void win_sum(const struct customer *c, int32_t now_day, int ndays, struct win_sums *s)
{
    memset(s, 0, sizeof(*s));
    for (uint32_t i = 0; i < c->ndays; i++) {
        const struct cu_day *b = &c->days[i];
        if (b->day > now_day - ndays && b->day <= now_day) {
            s->orders += b->orders;
            s->spend_cents = sat_add(s->spend_cents, b->spend_cents);
            s->refund_cents = sat_add(s->refund_cents, b->refund_cents);
            s->margin_cents = sat_add(s->margin_cents, b->margin_cents);
            s->costed += b->costed;
        }
    }
}

int32_t win_order_day_before(const struct customer *c, int32_t hi)
{
    for (uint32_t i = c->ndays; i-- > 0;) {
        if (c->days[i].day < hi && c->days[i].orders > 0) {
            return c->days[i].day;
        }
    }
    return -1;
}

int32_t win_order_day_after(const struct customer *c, int32_t lo)
{
    for (uint32_t i = 0; i < c->ndays; i++) {
        if (c->days[i].day > lo && c->days[i].orders > 0) {
            return c->days[i].day;
        }
    }
    return -1;
}
