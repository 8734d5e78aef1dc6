#include "base/decimal.h"

#include <string.h>

static const char digit_pairs[] = "00010203040506070809"
                                  "10111213141516171819"
                                  "20212223242526272829"
                                  "30313233343536373839"
                                  "40414243444546474849"
                                  "50515253545556575859"
                                  "60616263646566676869"
                                  "70717273747576777879"
                                  "80818283848586878889"
                                  "90919293949596979899";

char *decimal_before(char *end, uint64_t u)
{
    while (u >= 100) {
        unsigned d = (unsigned)(u % 100) * 2;

        u /= 100;
        *--end = digit_pairs[d + 1];
        *--end = digit_pairs[d];
    }
    if (u >= 10) {
        *--end = digit_pairs[u * 2 + 1];
        *--end = digit_pairs[u * 2];
    } else {
        *--end = (char)('0' + u);
    }
    return end;
}

size_t decimal_i64(char *buf, int64_t v)
{
    char tmp[DECIMAL_MAX];
    char *end = tmp + sizeof(tmp);
    /* the magnitude as unsigned, INT64_MIN included */
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    char *p = decimal_before(end, u);
    size_t n;

    if (v < 0) {
        *--p = '-';
    }
    n = (size_t)(end - p);
    memcpy(buf, p, n);
    buf[n] = '\0';
    return n;
}

const double decimal_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                  1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                  1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

int decimal_log10_estimate(double a)
{
    uint64_t bits;
    int e2;

    memcpy(&bits, &a, sizeof(bits));
    e2 = (int)((bits >> 52) & 0x7ff) - 1023; /* 2^e2 <= a < 2^(e2+1) */
    /* floor(e2 * log10(2)), 1233 / 4096 being log10(2) closely enough for
     * -60 <= e2 <= 79; the offset keeps the division's operand positive */
    return (e2 * 1233 + 64 * 4096) / 4096 - 64;
}
