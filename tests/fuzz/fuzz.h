/*
 * fuzz.h - what the libFuzzer targets of tests/fuzz/ share: the entry
 * point's prototype and the check that stops a run when a property an input
 * must never break is broken (libFuzzer then keeps that input as a crash).
 */
#ifndef LOYALTY_FUZZ_H
#define LOYALTY_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, what)                                                           \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: %s (%s)\n", __FILE__, __LINE__, what, #cond);        \
            abort();                                                                     \
        }                                                                                \
    } while (0)

#endif
