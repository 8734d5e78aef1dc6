/*
 * codec_int.h - what the codec's files share; its users include codec.h
 * only.  codec.c owns the table of the hash fields and the hash form,
 * codec_aux.c the auxiliary string (the bounded lists), codec_summary.c
 * the summary hash's fields; kvlist.c the lists they fill.  Pure, and
 * safe on any thread (the tables derived at first use are set up once).
 */
#ifndef LOYALTY_CODEC_INT_H
#define LOYALTY_CODEC_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "state/model/model.h"
#include "state/store/codec.h"

/* codec.c: the hash fields. */

enum fk {
    F_I64,    /* int64_t */
    F_I32,    /* int32_t */
    F_DBL,    /* double, shortest exact form */
    F_POINTS, /* int32_t hundredths, printed as points */
    F_TIER,
    F_SEGMENT,
    F_BRAND_TYPE,
    F_LOYALTY_TYPE,
    F_CURRENCY,
    F_OUT_NET,      /* encode only: net spend in currency units */
    F_OUT_CATEGORY, /* encode only: main category name */
};

struct field {
    const char *name;
    enum fk kind;
    size_t off;
};

/* Field f of c as text, into buf (len: 96 will do). */
void codec_encode_field(const struct customer *c, const struct field *f, char *buf,
                        size_t len);
/* 1 when field f is the same in a and b. */
int codec_field_same(const struct customer *a, const struct customer *b,
                     const struct field *f);
/* The field of that name, NULL for none; codec_init_order must have run
 * (pthread_once on codec_order_once). */
const struct field *codec_field_named(const char *name);
extern pthread_once_t codec_order_once;
void codec_init_order(void);
/* A whole decimal string: 0, or -1. */
int codec_parse_i64(const char *s, int64_t *out);

/* codec_aux.c: the auxiliary string. */

/* c's lists as the aux string (malloc'd), NULL on ENOMEM. */
char *codec_encode_aux(const struct customer *c);
/* 1 when a and b hold the same lists. */
int codec_lists_same(const struct customer *a, const struct customer *b);
/* Add the lists of the aux string to c: 0, or -1 with err. */
int codec_decode_aux(struct customer *c, const char *aux, char *err, size_t errlen);

#endif
