/*
 * names.h - enum <-> name tables, one idiom for the tree.
 *
 * A table is a `const char *const x_names[X__COUNT]` indexed by the enum,
 * written with designated initialisers ([X_FOO] = "foo") so that it stays in
 * step with the enum; a NULL entry is a value without a name.  A module
 * exports its table where others look names up or label with them, and a
 * typed x_name(enum x) built on names_get() for everyone else.
 */
#ifndef LOYALTY_NAMES_H
#define LOYALTY_NAMES_H

#include <stddef.h>

/* The entries of a table whose definition is in sight. */
#define NAMES_COUNT(table) (sizeof(table) / sizeof((table)[0]))

/* The name of value i of the n in `names`; "unknown" for a value out of
 * range or without a name, never NULL.  The value arrives as an int so that
 * a caller's out-of-range cast is caught here rather than indexing past the
 * table. */
const char *names_get(const char *const *names, size_t n, int i);

/* The value named by the len bytes at text (no NUL needed): its index, or -1
 * if no entry of the n is exactly that name. */
int names_lookup(const char *const *names, size_t n, const char *text, size_t len);

/* The same for a NUL-terminated text. */
int names_index(const char *const *names, size_t n, const char *text);

#endif
