/*
 * redrive.h - `loyaltyctl redrive`: dead-lettered input produced again to
 * its source topic once the cause is fixed (daemon/redrive.c).
 */
#ifndef LOYALTY_REDRIVE_H
#define LOYALTY_REDRIVE_H

#include "daemon/config.h"

/* The exit status a bad argument asks for (loyaltyctl prints the usage). */
#define REDRIVE_USAGE 2

/* `redrive --reason REASON [--customer ID] [--dry-run]` with argv[0] the
 * first argument after the command; json: one JSON object on stdout.
 * Returns 0, 1 after a failure (said on stderr), or REDRIVE_USAGE with what
 * is wrong in *why. */
int redrive_command(const struct config *cfg, int argc, char **argv, int json,
                    const char **why);

#endif
