/*
 * currency.h - the ISO 4217 currency codes and their minor units: how many
 * decimal digits an amount of the currency has after the point (2 for EUR:
 * an amount is a count of cents; 0 for JPY: of yen; 3 for KWD: of fils).
 *
 * The table holds the active codes of ISO 4217's list one, funds codes
 * included (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW), and both codes of a
 * currency in transition (ANG and XCG, SLE and SLL, VED and VES, ZWG and
 * ZWL).  Codes without a minor unit (XAU and the other precious metals, the
 * bond-market units XBA..XBD, XDR, XSU, XUA, XTS, XXX) name no money an
 * order is paid in and are not in it.  A short second list holds the
 * withdrawn currencies whose columns the European Central Bank's historical
 * reference rates still carry (CYP, EEK, HRK, LTL, LVL, MTL, ROL, SIT, SKK,
 * TRL), so that a reader of that file can tell such a column from a typo.
 *
 * Pure and constant: safe from any thread.
 */
#ifndef LOYALTY_CURRENCY_H
#define LOYALTY_CURRENCY_H

#include <stddef.h>

/* The largest minor-unit exponent in the table (CLF, UYW). */
#define CURRENCY_EXPONENT_MAX 4

/* The minor-unit exponent (0..CURRENCY_EXPONENT_MAX) of an active code,
 * three upper-case letters (not NUL-terminated necessarily), or -1 for any
 * other three bytes. */
int currency_exponent(const char code[3]);

/* 1 for a withdrawn code the ECB's historical file carries, else 0. */
int currency_withdrawn(const char code[3]);

/* The active codes in order, for listing and tests: the i-th code
 * (NUL-terminated) and its exponent, i < currency_count(). */
size_t currency_count(void);
const char *currency_code_at(size_t i, int *exponent);

#endif
