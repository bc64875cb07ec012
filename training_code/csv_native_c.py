"""C source of the plain-CSV parser of training (built by csv_native.py with the machine's C compiler).

Kept as a Python string, like serving_native_c, so the code travels as Python modules.

Two pure functions (no global state; safe on several threads at once):

``csv_rows``: the number of lines of a text (a last line without a newline counts).

``csv_float32_parse``: the rows of a text of plain numbers into float32 columns (cell [row, col] at
``out[col * stride + row]``), or a negative code where the text is not plain, so the caller hands
it to pyarrow. Plain: every line has exactly ``n_cols`` cells split by ``delim`` and ends in ``\n``
(the last one may end the text); a cell is empty (NaN, counted in ``*empty_cells``, which the
caller turns into a null as pyarrow's empty cell is) or ``-?digits[.digits][(e|E)[+|-]digits]``
with a digit before or after the point. Everything else is refused: a space, a CR, a blank line,
a quote, a leading ``+``, words (nan, inf), a wrong number of cells, a value that would overflow
float32 or round to zero or a subnormal. pyarrow reads every plain cell with the same value (the
test suite compares them bit for bit), so a plain text gives pyarrow's table.

Values are rounded once, to the float32 nearest the decimal (as pyarrow does, not through a
double, which can round differently). Fast path: the up-to-19-digit integer mantissa w and a power
of ten 10^k with |k| <= 22 (exact in double) give d = w * 10^k or w / 10^k with at most two
roundings in double, so d is within 2 units in the last place (ulps) of the exact value. Rounding d
to float32 then gives the exact value's float32 unless a float32 rounding midpoint (exact in double:
lower 29 mantissa bits 0x10000000) lies within that distance; with d more than 3 ulps from a
midpoint, none can. Anything else (more digits, a larger exponent, a value near a midpoint) goes to
strtof, which rounds correctly (the caller makes sure the C locale's decimal point is '.').
"""

SOURCE = r"""
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const double POW10[23] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

int64_t csv_rows(const char *s, int64_t n) {
    int64_t rows = 0;
    const char *p = s, *end = s + n;
    while (p < end) {
        const char *q = memchr(p, '\n', (size_t)(end - p));
        rows++;
        if (!q) break;
        p = q + 1;
    }
    return rows;
}

/* Eight digits at once: the 8 bytes at p (loaded little-endian: the first digit is the lowest byte). */
static inline uint64_t load8(const char *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline int eight_digits(uint64_t v) {
    /* Each byte 0x30..0x39: high nibble 3, and adding 6 leaves it 3 (no byte above 0x39). */
    return (v & 0xF0F0F0F0F0F0F0F0ULL) == 0x3030303030303030ULL
        && ((v + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) == 0x3030303030303030ULL;
}

static inline uint64_t eight_digits_value(uint64_t v) {
    v -= 0x3030303030303030ULL;                                /* bytes d0..d7, d0 lowest */
    v = (v * 10 + (v >> 8)) & 0x00FF00FF00FF00FFULL;          /* 16-bit lanes: d0d1, d2d3, ... */
    v = (v * 100 + (v >> 16)) & 0x0000FFFF0000FFFFULL;        /* 32-bit lanes: d0..d3, d4..d7 */
    return (v * 10000 + (v >> 32)) & 0xFFFFFFFFULL;           /* d0..d7 */
}

/* The unsigned number s[0..len) (already checked against the grammar) by strtof; 0 on success. */
static int correctly_rounded(const char *s, int64_t len, float *out) {
    char text[80];
    if (len >= (int64_t)sizeof text) return 1;
    memcpy(text, s, (size_t)len);
    text[len] = 0;
    char *stop;
    float f = strtof(text, &stop);
    /* Zero from a nonzero mantissa is an underflow, like inf an overflow: pyarrow decides those. */
    if (stop != text + len || !isfinite(f) || f == 0.0f || fabsf(f) < 1.17549435e-38f) return 1;
    *out = f;
    return 0;
}

#define REFUSED_ROWS -1
#define REFUSED_CELL -2
#define REFUSED_LINE -3
#define REFUSED_VALUE -4

int64_t csv_float32_parse(const char *s, int64_t n, char delim, int64_t n_cols, float *out,
                          int64_t stride, int64_t max_rows, int64_t *empty_cells) {
    const char *p = s, *end = s + n;
    int64_t row = 0, empty = 0;
    while (p < end) {
        if (row >= max_rows) return REFUSED_ROWS;
        for (int64_t c = 0; c < n_cols; c++) {
            int last = c + 1 == n_cols;
            float value;
            if (p == end || *p == delim || *p == '\n') {
                /* An empty cell; with one column an empty line is a blank line, which pyarrow skips. */
                if (n_cols == 1) return REFUSED_LINE;
                value = NAN;
                empty++;
            } else {
                const char *start = p;
                int negative = 0;
                if (*p == '-') { negative = 1; p++; }
                uint64_t w = 0;
                int digits = 0, any = 0, truncated = 0;
                int64_t exp10 = 0;
                /* Leading zeros add nothing; after them eight digits at a time while 19 fit in w. */
                for (; p < end && *p == '0'; p++) any = 1;
                for (; digits <= 11 && end - p >= 8 && eight_digits(load8(p)); p += 8, digits += 8, any = 1)
                    w = w * 100000000 + eight_digits_value(load8(p));
                for (; p < end && (unsigned)(*p - '0') < 10; p++) {
                    any = 1;
                    if (digits < 19) { w = w * 10 + (uint64_t)(*p - '0'); if (w) digits++; }
                    else { exp10++; truncated = 1; }
                }
                if (p < end && *p == '.') {
                    p++;
                    if (w == 0) for (; p < end && *p == '0'; p++) { any = 1; exp10--; }
                    for (; digits <= 11 && end - p >= 8 && eight_digits(load8(p)); p += 8, digits += 8, exp10 -= 8, any = 1)
                        w = w * 100000000 + eight_digits_value(load8(p));
                    for (; p < end && (unsigned)(*p - '0') < 10; p++) {
                        any = 1;
                        if (digits < 19) { w = w * 10 + (uint64_t)(*p - '0'); if (w) digits++; exp10--; }
                        else truncated = 1;
                    }
                }
                if (!any) return REFUSED_CELL;
                if (p < end && (*p == 'e' || *p == 'E')) {
                    int64_t e = 0;
                    int e_negative = 0;
                    p++;
                    if (p < end && (*p == '+' || *p == '-')) { e_negative = *p == '-'; p++; }
                    if (!(p < end && (unsigned)(*p - '0') < 10)) return REFUSED_CELL;
                    for (; p < end && (unsigned)(*p - '0') < 10; p++) if (e < 100000) e = e * 10 + (*p - '0');
                    exp10 += e_negative ? -e : e;
                }
                if (w == 0) {
                    value = 0.0f;
                } else {
                    int exact = 0;
                    if (!truncated && exp10 >= -22 && exp10 <= 22) {
                        double d = exp10 < 0 ? (double)w / POW10[-exp10] : (double)w * POW10[exp10];
                        if (d >= 0x1p-125 && d < 0x1p127) {
                            uint64_t bits;
                            memcpy(&bits, &d, sizeof bits);
                            int64_t from_midpoint = (int64_t)(bits & 0x1FFFFFFF) - 0x10000000;
                            if (from_midpoint > 3 || from_midpoint < -3) { value = (float)d; exact = 1; }
                        }
                    }
                    if (!exact && correctly_rounded(start + negative, p - start - negative, &value))
                        return REFUSED_VALUE;
                }
                if (negative) value = -value;
            }
            /* The cell must end at the delimiter, or the last one at the line's end. */
            if (last) { if (p < end && *p != '\n') return REFUSED_LINE; }
            else if (!(p < end && *p == delim)) return REFUSED_LINE;
            out[c * stride + row] = value;
            p++;
        }
        row++;
    }
    *empty_cells = empty;
    return row;
}
"""
