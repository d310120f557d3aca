/* INCRBYFLOAT arithmetic in the C `long double` Redis uses (x87 80-bit on
 * x86-64), so that results and their decimal text match Redis exactly.
 * Rust has no such type; this file is the only C in Spindle. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CHARS (5 * 1024)

/* Parses `len` bytes as a long double with Redis's rules: no leading
 * space, whole input consumed, no NaN, no overflow/underflow. */
static int parse_ld(const char *s, size_t len, long double *out) {
    char buf[MAX_CHARS];
    char *end;
    if (len == 0 || len >= sizeof(buf)) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    long double v = strtold(buf, &end);
    if (isspace((unsigned char)buf[0]) || end[0] != '\0' || (size_t)(end - buf) != len ||
        (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || fpclassify(v) == FP_ZERO)) ||
        isnan(v))
        return 0;
    *out = v;
    return 1;
}

/* Returns the length of the text written to `out`, or:
 *  -1 when `cur` is not a valid float,
 *  -2 when `incr` is not a valid float,
 *  -3 when the result is NaN or infinite,
 *  -4 when the text does not fit. */
long spindle_incrbyfloat(const char *cur, size_t cur_len, int cur_is_int, long long cur_int,
                         const char *incr, size_t incr_len, char *out, size_t out_cap) {
    long double value, by;
    if (cur_is_int) {
        value = (long double)cur_int;
    } else if (cur == NULL) {
        value = 0;
    } else if (!parse_ld(cur, cur_len, &value)) {
        return -1;
    }
    if (!parse_ld(incr, incr_len, &by)) return -2;
    value += by;
    if (isnan(value) || isinf(value)) return -3;
    int l = snprintf(out, out_cap, "%.17Lf", value);
    if (l < 0 || (size_t)l + 1 > out_cap) return -4;
    if (strchr(out, '.') != NULL) {
        char *p = out + l - 1;
        while (*p == '0') { p--; l--; }
        if (*p == '.') l--;
    }
    if (l == 2 && out[0] == '-' && out[1] == '0') { out[0] = '0'; l = 1; }
    return l;
}
