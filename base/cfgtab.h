/*
 * cfgtab.h - configuration keys described by a table of {name, type, field,
 * default, bounds, help}, and what every such table needs: its defaults, one
 * key set from its text with the value checked, the keys that differ
 * between two configurations, and the description `loyaltyd --help-config`
 * prints (and loyaltyd.conf(5) is made from).  The daemon's keys
 * (daemon/config.c) and the model's tunables (state/model/mconfig.c) are two
 * such tables, each beside what it configures; reading a file is the
 * daemon's.
 *
 * Every error is worded "KEY: reason" (the file's reader puts "FILE:LINE: "
 * before it), an unknown key "unknown key 'KEY'".  No I/O but
 * cfgtab_describe's; no state of its own, so any thread may use it on
 * configurations it owns.
 */
#ifndef LOYALTY_CFGTAB_H
#define LOYALTY_CFGTAB_H

#include <stddef.h>
#include <stdio.h>

/* The field's C type and how its text is read; the bounds are min and max. */
enum cfgtab_type {
    CFGTAB_STR,    /* char *, a copy of the text owned by the configuration */
    CFGTAB_INT,    /* int, an integer */
    CFGTAB_SIZE,   /* size_t, an integer */
    CFGTAB_DOUBLE, /* double, a number */
    CFGTAB_WHOLE,  /* double, an integer */
    CFGTAB_SECS,   /* int milliseconds, given as an integer of seconds */
    CFGTAB_SECS64, /* int64_t milliseconds, given as an integer of seconds */
    CFGTAB_CUSTOM  /* read by the key's hook; compared byte for byte */
};

/* Flags of a key. */
#define CFGTAB_NONEMPTY 1u /* CFGTAB_STR: an empty value is refused */
#define CFGTAB_IN_PLACE 2u /* a reload applies it in place: never a change to report */

/* cfgtab_set: the table has no key of that name. */
#define CFGTAB_UNKNOWN (-2)
/* A hook's answer for a value that is none of those the key's help lists;
 * the error then quotes the help. */
#define CFGTAB_NOT_LISTED (-2)

struct cfgtab_key;

/* A key's hook, called with obj, the configured struct.  CFGTAB_CUSTOM: read
 * value into the key's field(s); CFGTAB_STR: check value before the engine
 * keeps a copy.  0; -1 with the reason (without the key's name) in why;
 * CFGTAB_NOT_LISTED.  A refused value leaves obj as it was. */
typedef int cfgtab_hook_fn(void *obj, const struct cfgtab_key *k, const char *value,
                           char *why, size_t whylen);

/* A row of a table, every member given (CFGTAB_FIELD gives offset and size). */
struct cfgtab_key {
    const char *name; /* without the table's prefix */
    enum cfgtab_type type;
    size_t offset, size;  /* of the field in the configured struct */
    const char *def;      /* the default, as a config line would give it */
    double min, max;      /* the bounds of a number; a hook may use them */
    const char *help;     /* one line; a key of a few values names them all */
    unsigned flags;       /* CFGTAB_NONEMPTY, CFGTAB_IN_PLACE */
    cfgtab_hook_fn *hook; /* CFGTAB_CUSTOM: required; CFGTAB_STR: may be NULL */
};

/* offset and size of the field f of the struct type T. */
#define CFGTAB_FIELD(T, f) offsetof(T, f), sizeof(((T *)0)->f)

struct cfgtab {
    const char *prefix; /* of every key's name in a file: "" or "model." */
    const struct cfgtab_key *keys;
    size_t n;
};

/* Every key of tab in obj set to its default.  obj's strings must be NULL or
 * owned (a zeroed struct will do).  0, or -1 with err (out of memory, or a
 * default its own key refuses). */
int cfgtab_defaults(const struct cfgtab *tab, void *obj, char *err, size_t errlen);

/* Free the strings of obj that tab owns, and set them to NULL. */
void cfgtab_free(const struct cfgtab *tab, void *obj);

/* Set the key named name (prefix included) from its text.  0; -1 with
 * "KEY: reason" in err, obj unchanged; CFGTAB_UNKNOWN with
 * "unknown key 'NAME'". */
int cfgtab_set(const struct cfgtab *tab, void *obj, const char *name, const char *value,
               char *err, size_t errlen);

/* The keys whose values differ between a and b, CFGTAB_IN_PLACE ones left
 * out: how many, their names appended to the text in out (", " between two;
 * cut at outlen). */
size_t cfgtab_changes(const struct cfgtab *tab, const void *a, const void *b, char *out,
                      size_t outlen);

/* Every key as "# help" and "KEY = default" lines, in table order. */
void cfgtab_describe(const struct cfgtab *tab, FILE *out);

#endif
