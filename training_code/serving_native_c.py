"""C source of the compiled evaluator (built by serving_native.py with the machine's C compiler).

Kept as a Python string so that the model's ``code/`` folder, which carries the Python modules
the inference code imports, carries it too.

Two functions, both pure (no global state, safe to call from any thread or forked process):

``csv_parse``: a CSV body -> float32 rows, one pass in C. Each cell is parsed to the nearest
double and then rounded to float32, exactly as numpy's ``float(text)`` followed by a float32 cast
(and as the stock container's string array -> float64 -> DMatrix float32); an empty cell is NaN.
Decimal cells with up to 19 significant digits and a small exponent take an exact fast path
(Clinger's: an integer mantissa times an exact power of ten, one correctly rounded operation);
anything longer goes through strtod. Tokens Python's float() would refuse (hex, '1_0', '+-1')
are errors; 'nan', 'inf', 'infinity' in any case, with a sign, are accepted as Python does.

``forest_predict``: rows -> predictions, walking the flat node arrays of serving_trees.Forest
(leaves point to themselves). The margin of each output starts at the base margin and adds tree
after tree in float32, the order and precision xgboost uses; the transform is computed in double
and rounded to float32, as the numpy evaluator does.
"""

SOURCE = r"""
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const double POW10[23] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static int lower_equals(const char *s, int64_t n, const char *word) {
    int64_t i = 0;
    for (; i < n && word[i]; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != word[i]) return 0;
    }
    return i == n && word[i] == 0;
}

/* Parse s[0..n) (already trimmed, n > 0) as Python's float() would; 0 on success. */
static int parse_number(const char *s, int64_t n, double *out) {
    int64_t i = 0;
    int negative = 0;
    if (s[0] == '+' || s[0] == '-') { negative = s[0] == '-'; i = 1; }
    if (i < n && !(s[i] >= '0' && s[i] <= '9') && s[i] != '.') {
        const char *w = s + i;
        int64_t m = n - i;
        if (lower_equals(w, m, "nan")) { *out = NAN; return 0; }
        if (lower_equals(w, m, "inf") || lower_equals(w, m, "infinity")) {
            *out = negative ? -INFINITY : INFINITY; return 0;
        }
        return 1;
    }
    uint64_t mantissa = 0;
    int digits = 0, any = 0, truncated = 0;  /* truncated: a digit past the 19th was dropped */
    int64_t exp10 = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        any = 1;
        if (digits < 19) { mantissa = mantissa * 10 + (uint64_t)(s[i] - '0'); if (mantissa) digits++; }
        else { exp10++; truncated = 1; }
    }
    if (i < n && s[i] == '.') {
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
            any = 1;
            if (digits < 19) { mantissa = mantissa * 10 + (uint64_t)(s[i] - '0'); if (mantissa) digits++; exp10--; }
            else truncated = 1;
        }
    }
    if (!any) return 1;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        int64_t j = i + 1, e = 0;
        int eneg = 0;
        if (j < n && (s[j] == '+' || s[j] == '-')) { eneg = s[j] == '-'; j++; }
        if (j >= n) return 1;
        for (; j < n && s[j] >= '0' && s[j] <= '9'; j++) { if (e < 100000) e = e * 10 + (s[j] - '0'); }
        if (j != n) return 1;
        exp10 += eneg ? -e : e;
        i = j;
    }
    if (i != n) return 1;
    if (!truncated && mantissa <= (1ULL << 53) && exp10 >= -22 && exp10 <= 22) {
        double v = (double)mantissa;
        v = exp10 < 0 ? v / POW10[-exp10] : v * POW10[exp10];
        *out = negative ? -v : v;
        return 0;
    }
    char local[128];
    char *copy = n < (int64_t)sizeof(local) ? local : (char *)malloc((size_t)n + 1);
    if (!copy) return 1;
    memcpy(copy, s, (size_t)n);
    copy[n] = 0;
    *out = strtod(copy, NULL);
    if (copy != local) free(copy);
    return 0;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Returns 0 and fills out[rows * ncol]; or 1 (wrong column count: *err_row, *err_col = count)
   or 2 (a cell is not a number: *err_row, *err_col = its 0-based position). */
int csv_parse(const char *buf, int64_t len, char delim, int64_t ncol, int64_t rows,
              float *out, int64_t *err_row, int64_t *err_col) {
    int64_t pos = 0;
    for (int64_t r = 0; r < rows; r++) {
        int64_t end = pos;
        while (end < len && buf[end] != '\n') end++;
        int64_t col = 0, start = pos;
        for (int64_t k = pos; k <= end; k++) {
            if (k < end && buf[k] != delim) continue;
            int64_t a = start, b = k;
            while (a < b && is_space(buf[a]) && buf[a] != delim) a++;
            while (b > a && is_space(buf[b - 1]) && buf[b - 1] != delim) b--;
            if (col < ncol) {
                double v;
                if (a == b) v = NAN;
                else if (parse_number(buf + a, b - a, &v)) { *err_row = r; *err_col = col; return 2; }
                out[r * ncol + col] = (float)v;
            }
            col++;
            start = k + 1;
        }
        if (col != ncol) {
            int blank = 1;
            for (int64_t k = pos; k < end; k++) if (!is_space(buf[k])) { blank = 0; break; }
            *err_row = r; *err_col = blank ? 0 : col; return 1;
        }
        pos = end + 1;
    }
    return 0;
}

enum { IDENTITY = 0, SIGMOID = 1, EXP = 2, SOFTMAX = 3, ARGMAX = 4 };

void forest_predict(const float *x, int64_t rows, int64_t ncol,
                    const int64_t *feature, const float *threshold, const int64_t *left,
                    const float *value, const int64_t *roots, const int64_t *tree_group,
                    int64_t trees, const float *base, int64_t groups, int transform,
                    float *out, float *margin) {
    for (int64_t r = 0; r < rows; r++) {
        const float *row = x + r * ncol;
        float *m = margin + r * groups;
        for (int64_t g = 0; g < groups; g++) m[g] = base[g];
        for (int64_t t = 0; t < trees; t++) {
            int64_t node = roots[t];
            while (left[node] != node) {
                int64_t f = feature[node];
                int64_t right;
                if (f < ncol) {            /* default left: a missing value goes left */
                    float v = row[f];
                    right = !isnan(v) && v >= threshold[node];
                } else {                   /* default right */
                    float v = row[f - ncol];
                    right = isnan(v) || v >= threshold[node];
                }
                node = left[node] + right;
            }
            m[tree_group[t]] += value[node];
        }
        float *o = out + r * (transform == ARGMAX ? 1 : groups);
        if (transform == SIGMOID) {
            for (int64_t g = 0; g < groups; g++) o[g] = (float)(1.0 / (1.0 + exp(-(double)m[g])));
        } else if (transform == EXP) {
            for (int64_t g = 0; g < groups; g++) o[g] = (float)exp((double)m[g]);
        } else if (transform == SOFTMAX) {
            double top = m[0], total = 0.0;
            for (int64_t g = 1; g < groups; g++) if (m[g] > top) top = m[g];
            for (int64_t g = 0; g < groups; g++) total += exp((double)m[g] - top);
            for (int64_t g = 0; g < groups; g++) o[g] = (float)(exp((double)m[g] - top) / total);
        } else if (transform == ARGMAX) {
            int64_t best = 0;
            for (int64_t g = 1; g < groups; g++) if (m[g] > m[best]) best = g;
            o[0] = (float)best;
        } else {
            for (int64_t g = 0; g < groups; g++) o[g] = m[g];
        }
    }
}
"""
