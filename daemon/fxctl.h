/*
 * fxctl.h - `loyaltyctl fx`: exchange rates imported into Redis from a
 * file and listed as they are in force on a day (daemon/fxctl.c).
 */
#ifndef LOYALTY_FXCTL_H
#define LOYALTY_FXCTL_H

#include "daemon/config.h"

/* The exit status a bad argument asks for (loyaltyctl prints the usage). */
#define FXCTL_USAGE 2

/* `fx import FILE [--format auto|ecb|plain] [--base CUR] [--replace]` or
 * `fx list [--currency CUR] [--on YYYY-MM-DD]`, argv[0] being import or
 * list; json: one JSON document on stdout.  Returns 0, 1 after a failure
 * (said on stderr), or FXCTL_USAGE with what is wrong in *why. */
int fxctl_command(const struct config *cfg, int argc, char **argv, int json,
                  const char **why);

#endif
