/*
 * model.h - the loyalty model (docs/model.md; README, "Events out"): pure
 * functions over a struct customer.  No I/O, no clock: "now" is always an
 * argument (the event time on the event path, the sweep time in the
 * sweeper), so the same inputs always give the same state and the same
 * derived events.
 *
 * The one header the model's users include.  Besides the passes below it
 * brings what they handle: the customer and the events (customer.h,
 * event.h), the tunables and their functions (mconfig.h), the context and
 * the emissions (mtypes.h), derived_finish (derived.h) and the BG/NBD
 * predictions (bgnbd.h).  Inside the model only the files that implement
 * it (model.c, explain.c) include it; the other modules include the
 * headers they use.
 */
#ifndef LOYALTY_MODEL_H
#define LOYALTY_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "state/model/bgnbd.h"
#include "state/model/customer.h"
#include "state/model/derived.h"
#include "state/model/event.h"
#include "state/model/mconfig.h"
#include "state/model/mtypes.h"

void emission_list_init(struct emission_list *l);
void emission_list_free(struct emission_list *l);

/* model_apply's refusal of an order.returned left unconverted (no rate of
 * its own day, event.h struct ev_paid) whose order it does not know: the
 * event is to be dead-lettered with reason no_rate. */
#define MODEL_NO_RATE (-2)

/* Apply one validated event at its own time (ev->ts_ms).  Derived events go to
 * `out`.  Returns 0, or -1 with `err` if the event cannot be applied, or
 * MODEL_NO_RATE with `err`; a refused event changes nothing. */
int model_apply(struct customer *c, const struct event *ev, const struct model_ctx *m,
                struct emission_list *out, char *err, size_t errlen);

/* Re-evaluate time-driven state (quiet customers, SLA expiry, incident windows,
 * tier grace) at `now_ms` without an event. */
int model_sweep(struct customer *c, int64_t now_ms, const struct model_ctx *m,
                struct emission_list *out);

/* Evaluate the customer again at its own as_of time with m's parameters, if
 * it was last evaluated with an older version (a refit): the scores, the
 * indices' values and a churn crossing the new parameters imply, as of the
 * time the stored values describe.  Returns 1 if it did, 0 if the customer
 * is current, -1 on ENOMEM. */
int model_rescore(struct customer *c, const struct model_ctx *m,
                  struct emission_list *out);

/* Earliest time at which model_sweep could change something for this customer
 * (churn threshold crossing computed from the closed form of P(alive), SLA
 * deadline, end of an incident window, tier downgrade); INT64_MAX if never. */
int64_t model_next_due(const struct customer *c, const struct model_ctx *m);

/* Due times evaluated by one model_advance call, at most.  Each is later than
 * the one before, so this only bounds a model that would produce a great
 * many; it is far above what a customer's lists can give (every purchase day
 * leaving the 365-day window is one due time), because a chain cut short
 * would make the state depend on where it was cut. */
#define MODEL_ADVANCE_MAX 4096

/* The timers (docs/model.md "Timers"): evaluate every due time of the
 * customer up to and including until_ms, each at its own time (model_sweep
 * at model_next_due, again and again).  Whether it runs at extra moments in
 * between changes nothing: the state and the derived events depend on the
 * events and the due times only.  Returns the number of due times evaluated,
 * -1 on ENOMEM. */
int model_advance(struct customer *c, int64_t until_ms, const struct model_ctx *m,
                  struct emission_list *out);

/* The explanation of every score and class of `c` as evaluated at `now_ms`
 * (figures and the thresholds that led there), one line per item, for
 * `loyaltyctl show`.  `c` is not changed.  Returns 0, or -1 if buf is too
 * small (the text is then truncated). */
int model_explain(const struct customer *c, const struct model_ctx *m, int64_t now_ms,
                  char *buf, size_t len);

#endif
