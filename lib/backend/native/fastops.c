// Native helpers of the fast backend, multi-threaded with OpenMP: im2col, col2im, bias + activation, row sums,
// a parallel sgemm driver, elementwise ops, batch norm and its gradient, concat/split copies, pooling gradients.
// Built on first use by lib/backend/native.ts (cc -O3 -march=native -fopenmp) and called through Deno FFI on the
// wasm heap; lib/backend/ops.ts holds TypeScript versions of the helpers the fast backend cannot do without.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Conv geometry, g[0..10]: H, W, C, OH, OW, FH, FW, SH, SW, PT (pad top), PL (pad left). */
enum { G_H, G_W, G_C, G_OH, G_OW, G_FH, G_FW, G_SH, G_SW, G_PT, G_PL };

/* Number of threads OpenMP uses (1 when built without OpenMP). */
int32_t fo_threads(void) {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

/* Memory-bound loops over fewer values than this run on the calling thread: waking the other threads costs more
 * than it saves on small tensors (and much more when another process holds the other cores). */
static int64_t par_min = 65536;
void fo_set_parallel_min(int32_t n) { par_min = n < 1 ? 1 : n; }

/* Rows of the im2col matrix of images [n0, n1) of x (NHWC) into cols [(n1-n0)*OH*OW, FH*FW*C]. */
void fo_im2col(const float *x, float *cols, const int32_t *g, int32_t n0, int32_t n1) {
  const int64_t H = g[G_H], W = g[G_W], C = g[G_C], OH = g[G_OH], OW = g[G_OW], FH = g[G_FH], FW = g[G_FW];
  const int64_t SH = g[G_SH], SW = g[G_SW], PT = g[G_PT], PL = g[G_PL], rowLen = FW * C, K = FH * rowLen;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = n0; n < n1; n++) {
    for (int64_t oy = 0; oy < OH; oy++) {
      const float *xb = x + n * H * W * C;
      float *o = cols + (((n - n0) * OH + oy) * OW) * K;
      for (int64_t ox = 0; ox < OW; ox++, o += K) {
        const int64_t ix0 = ox * SW - PL;
        const int full = ix0 >= 0 && ix0 + FW <= W;
        for (int64_t ky = 0; ky < FH; ky++) {
          float *r = o + ky * rowLen;
          const int64_t iy = oy * SH - PT + ky;
          if (iy < 0 || iy >= H) {
            memset(r, 0, rowLen * sizeof(float));
            continue;
          }
          const float *xr = xb + iy * W * C;
          if (full) {
            memcpy(r, xr + ix0 * C, rowLen * sizeof(float));
            continue;
          }
          for (int64_t kx = 0; kx < FW; kx++) {
            const int64_t ix = ix0 + kx;
            if (ix < 0 || ix >= W) memset(r + kx * C, 0, C * sizeof(float));
            else memcpy(r + kx * C, xr + ix * C, C * sizeof(float));
          }
        }
      }
    }
  }
}

/* Writes images [n0, n1) of dx (NHWC) as the scatter-add of cols (as im2col lays them out for those images). */
void fo_col2im(const float *cols, float *dx, const int32_t *g, int32_t n0, int32_t n1) {
  const int64_t H = g[G_H], W = g[G_W], C = g[G_C], OH = g[G_OH], OW = g[G_OW], FH = g[G_FH], FW = g[G_FW];
  const int64_t SH = g[G_SH], SW = g[G_SW], PT = g[G_PT], PL = g[G_PL], rowLen = FW * C, K = FH * rowLen;
#pragma omp parallel for schedule(static)
  for (int64_t n = n0; n < n1; n++) {
    float *db = dx + n * H * W * C;
    memset(db, 0, H * W * C * sizeof(float));
    const float *o = cols + (n - n0) * OH * OW * K;
    for (int64_t oy = 0; oy < OH; oy++) {
      for (int64_t ox = 0; ox < OW; ox++, o += K) {
        const int64_t ix0 = ox * SW - PL;
        for (int64_t ky = 0; ky < FH; ky++) {
          const int64_t iy = oy * SH - PT + ky;
          if (iy < 0 || iy >= H) continue;
          const float *r = o + ky * rowLen;
          float *dr = db + iy * W * C;
          for (int64_t kx = 0; kx < FW; kx++) {
            const int64_t ix = ix0 + kx;
            if (ix < 0 || ix >= W) continue;
            float *d = dr + ix * C;
            const float *s = r + kx * C;
            for (int64_t c = 0; c < C; c++) d[c] += s[c];
          }
        }
      }
    }
  }
}

/* Activations of fo_bias_act (the order of ACTIVATIONS in ops.ts). */
enum { A_LINEAR, A_RELU, A_RELU6, A_LEAKYRELU, A_ELU, A_SIGMOID };

/* row [len] += bias (bias[0] for every entry when nb == 1; nothing when nb == 0), then the activation. */
static void bias_act_row(float *row, const float *bias, int32_t nb, int64_t len, int32_t act, float alpha) {
  if (nb == 1) for (int64_t j = 0; j < len; j++) row[j] += bias[0];
  else if (nb > 1) for (int64_t j = 0; j < len; j++) row[j] += bias[j];
  switch (act) {
    case A_RELU: for (int64_t j = 0; j < len; j++) row[j] = row[j] < 0 ? 0 : row[j]; break;
    case A_RELU6: for (int64_t j = 0; j < len; j++) row[j] = row[j] < 0 ? 0 : row[j] > 6 ? 6 : row[j]; break;
    case A_LEAKYRELU: for (int64_t j = 0; j < len; j++) row[j] = row[j] < 0 ? row[j] * alpha : row[j]; break;
    case A_ELU: for (int64_t j = 0; j < len; j++) row[j] = row[j] < 0 ? expm1f(row[j]) : row[j]; break;
    case A_SIGMOID: for (int64_t j = 0; j < len; j++) row[j] = 1 / (1 + expf(-row[j])); break;
    default: break;
  }
}

/* Rows of n values taken k at a time (as rows of k * n), so that a loop over a row is long enough to vectorize:
 * k = floor(128 / n) for n < 64, else 1. */
static int64_t row_group(int64_t n) { return n >= 64 ? 1 : 128 / n; }

/* v [rows, n] += bias (length n, or 1 when nb == 1; none when nb == 0), then the activation, in place. Narrow
 * rows (a conv layer's 6 or 16 channels) run k at a time against the bias repeated k times (row_group). */
void fo_bias_act(float *v, const float *bias, int32_t nb, int32_t rows, int32_t n, int32_t act, float alpha) {
  const int64_t k = row_group(n), width = k * n, wide = rows / k;
  float *bw = nb > 1 && k > 1 ? malloc((size_t)width * sizeof(float)) : NULL;
  for (int64_t j = 0; bw && j < width; j++) bw[j] = bias[j % n];
  const float *b = bw ? bw : bias;
  const int32_t nbw = bw ? (int32_t)width : nb;
#pragma omp parallel for schedule(static) if ((int64_t)rows * n >= par_min)
  for (int64_t r = 0; r < wide; r++) bias_act_row(v + r * width, b, nbw, width, act, alpha);
  for (int64_t r = wide * k; r < rows; r++) bias_act_row(v + r * n, bias, nb, n, act, alpha);
  free(bw);
}

/*
 * Per-column sums over rows of x [rows, cols] in double, into out [cols]: of the values, or (center not null) of
 * their squared deviations from center [cols]. Narrow rows (a conv layer's bias gradient: 6 or 16 channels) are
 * summed k at a time as rows of k * cols values, so that the inner loop is long enough to vectorize; the k
 * partial sums are added at the end. Each thread sums a fixed block of rows and the blocks are added in order, so
 * the result does not depend on timing.
 */
static void col_sums(const float *x, int32_t rows, int32_t cols, const float *center, double *out) {
  const int T = fo_threads();
  const int64_t k = cols >= 64 ? 1 : 128 / cols, width = k * cols, wide = rows / k;
  double *part = calloc((size_t)T * width, sizeof(double));
  float *cw = center ? malloc((size_t)width * sizeof(float)) : NULL;
  for (int64_t j = 0; cw && j < width; j++) cw[j] = center[j % cols];
#pragma omp parallel for schedule(static) if ((int64_t)rows * cols >= par_min)
  for (int t = 0; t < T; t++) {
    const int64_t r0 = wide * t / T, r1 = wide * (t + 1) / T;
    double *acc = part + (int64_t)t * width;
    for (int64_t r = r0; r < r1; r++) {
      const float *row = x + r * width;
      if (!cw) {
        for (int64_t j = 0; j < width; j++) acc[j] += row[j];
        continue;
      }
      for (int64_t j = 0; j < width; j++) {
        const double d = (double)row[j] - cw[j];
        acc[j] += d * d;
      }
    }
  }
  for (int64_t c = 0; c < cols; c++) {
    double v = 0;
    for (int t = 0; t < T; t++) {
      for (int64_t q = 0; q < k; q++) v += part[(int64_t)t * width + q * cols + c];
    }
    for (int64_t r = wide * k; r < rows; r++) { /* the rows left over from the groups of k */
      const double d = center ? (double)x[r * cols + c] - center[c] : x[r * cols + c];
      v += center ? d * d : d;
    }
    out[c] = v;
  }
  free(cw);
  free(part);
}

/* out [cols] = sum over rows of x [rows, cols] (divided by rows when mean != 0), accumulated in double. */
void fo_sum_rows(const float *x, float *out, int32_t rows, int32_t cols, int32_t mean) {
  double *v = malloc((size_t)cols * sizeof(double));
  col_sums(x, rows, cols, NULL, v);
  for (int64_t c = 0; c < cols; c++) out[c] = (float)(mean ? v[c] / rows : v[c]);
  free(v);
}

/*
 * Per-column mean and biased variance of x [rows, cols] over rows (a batch norm's moments, tf.moments over all
 * but the last axis): the mean, then the squared deviations from it; both accumulated in double.
 */
void fo_moments(const float *x, float *mean, float *var, int32_t rows, int32_t cols) {
  fo_sum_rows(x, mean, rows, cols, 1);
  double *v = malloc((size_t)cols * sizeof(double));
  col_sums(x, rows, cols, mean, v);
  for (int64_t c = 0; c < cols; c++) var[c] = (float)(v[c] / rows);
  free(v);
}

/*
 * The gradient of fo_moments: dx [rows, cols] = (d_mean[c] + 2 d_variance[c] (x - mean[c])) / rows, with
 * dmv [2, cols] holding d_mean then d_variance.
 */
void fo_moments_grad(const float *x, const float *mean, const float *dmv, float *dx, int32_t rows, int32_t cols) {
  const float inv = 1.0f / rows;
#pragma omp parallel for schedule(static) if ((int64_t)rows * cols >= par_min)
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * (int64_t)cols;
    float *o = dx + r * (int64_t)cols;
    for (int64_t c = 0; c < cols; c++) o[c] = (dmv[c] + 2.0f * dmv[cols + c] * (xr[c] - mean[c])) * inv;
  }
}

/* cblas_sgemm's signature; the library's own function is handed over by fo_set_sgemm (from Deno's dlopen). */
typedef void (*cblas_sgemm_fn)(int order, int transA, int transB, int m, int n, int k, float alpha, const float *a,
                               int lda, const float *b, int ldb, float beta, float *c, int ldc);
static cblas_sgemm_fn blas_sgemm;
enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

/* Sets the cblas_sgemm that fo_sgemm calls (its BLAS library should then run single-threaded). */
void fo_set_sgemm(void *f) { blas_sgemm = (cblas_sgemm_fn)f; }

/*
 * C [m, n] = op(A) op(B) + beta C, row-major, as cblas_sgemm, split over the OpenMP threads: each thread makes
 * one single-threaded BLAS call on its share of the longest dimension (rows of C, columns of C, or the
 * reduction, whose partial products are then added). On the conv nets' skinny shapes this runs 1.3-2.3x faster
 * than OpenBLAS's own threading, which wakes and synchronizes its workers per call.
 */
void fo_sgemm(int32_t ta, int32_t tb, int32_t m, int32_t n, int32_t k, const float *a, int32_t lda, const float *b,
              int32_t ldb, float beta, float *c, int32_t ldc) {
  const int T = fo_threads(), A = ta ? TRANS : NO_TRANS, B = tb ? TRANS : NO_TRANS;
  if (T == 1 || (double)m * n * k < (1 << 22)) { /* DENSE_MIN_MACS in kernels.ts: one thread is faster below */
    blas_sgemm(ROW_MAJOR, A, B, m, n, k, 1, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  if (m >= n && m >= k / 4) { /* rows of C */
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
      const int64_t r0 = (int64_t)m * t / T, r1 = (int64_t)m * (t + 1) / T;
      blas_sgemm(ROW_MAJOR, A, B, (int)(r1 - r0), n, k, 1, ta ? a + r0 : a + r0 * lda, lda, b, ldb, beta,
                 c + r0 * ldc, ldc);
    }
  } else if (n > m && n >= k / 4) { /* columns of C */
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
      const int64_t c0 = (int64_t)n * t / T, c1 = (int64_t)n * (t + 1) / T;
      blas_sgemm(ROW_MAJOR, A, B, m, (int)(c1 - c0), k, 1, a, lda, tb ? b + c0 * ldb : b + c0, ldb, beta, c + c0,
                 ldc);
    }
  } else { /* the reduction: thread 0 accumulates into C, the others into scratch, added in thread order */
    float *part = malloc((size_t)(T - 1) * m * n * sizeof(float));
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; t++) {
      const int64_t k0 = (int64_t)k * t / T, k1 = (int64_t)k * (t + 1) / T;
      float *ct = t == 0 ? c : part + (int64_t)(t - 1) * m * n;
      blas_sgemm(ROW_MAJOR, A, B, m, n, (int)(k1 - k0), 1, ta ? a + k0 * lda : a + k0, lda,
                 tb ? b + k0 : b + k0 * ldb, ldb, t == 0 ? beta : 0, ct, t == 0 ? ldc : n);
    }
    for (int t = 1; t < T; t++) {
      const float *pt = part + (int64_t)(t - 1) * m * n;
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) c[i * ldc + j] += pt[i * n + j];
      }
    }
    free(part);
  }
}

/* Binary ops of fo_binary (the order of BINARY_OPS in ops.ts). */
enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV };

static inline float binop(int32_t op, float x, float y) {
  switch (op) {
    case OP_ADD: return x + y;
    case OP_SUB: return x - y;
    case OP_MUL: return x * y;
    default: return x / y;
  }
}

/* for (j < len) EXPR, with the op a compile-time constant in each copy of the loop (so it vectorizes). */
#define OP_LOOP(EXPR)                                                                                         \
  switch (op) {                                                                                               \
    case OP_ADD: { const int32_t op_ = OP_ADD; for (int64_t j = 0; j < len; j++) EXPR; } break;             \
    case OP_SUB: { const int32_t op_ = OP_SUB; for (int64_t j = 0; j < len; j++) EXPR; } break;             \
    case OP_MUL: { const int32_t op_ = OP_MUL; for (int64_t j = 0; j < len; j++) EXPR; } break;             \
    default: { const int32_t op_ = OP_DIV; for (int64_t j = 0; j < len; j++) EXPR; } break;                 \
  }

/* out[q + j] = a op b for j < len over q in [o, end) by steps of len, the short operand (period len) at [0, len). */
static void periodic(int32_t op, const float *a, int32_t a_full, const float *b, float *out, int64_t o, int64_t end,
                     int64_t len) {
  for (int64_t q = o; q < end; q += len) {
    float *r = out + q;
    if (a_full) { const float *x = a + q; OP_LOOP(r[j] = binop(op_, x[j], b[j])) }
    else { const float *y = b + q; OP_LOOP(r[j] = binop(op_, a[j], y[j])) }
  }
}

/*
 * out [n] = a op b, where each operand is either full (length n) or repeats with period p (na or nb == p; p
 * divides n; p == 1 is a scalar): the same-shape and trailing-axis broadcasts of elementwise layers. Work is
 * split into blocks of about 4096 outputs (whole periods). A short period (a conv layer's 6 or 16 channels) runs
 * against the short operand repeated k times (row_group), so that the loop over one period vectorizes.
 */
void fo_binary(int32_t op, const float *a, int32_t na, const float *b, int32_t nb, float *out, int32_t n) {
  const int64_t p = na < nb ? na : nb, per = p == n || p == 1 ? 1 : p;
  const int32_t a_full = na == n;
  const int64_t k = per > 1 && n >= per * row_group(per) ? row_group(per) : 1, pw = per * k;
  float *rep = k > 1 ? malloc((size_t)pw * sizeof(float)) : NULL;
  const float *shrt = a_full ? b : a;
  for (int64_t j = 0; rep && j < pw; j++) rep[j] = shrt[j % per];
  const float *sa = rep && !a_full ? rep : a, *sb = rep && a_full ? rep : b;
  const int64_t main = n - n % pw;
  const int64_t step = pw == 1 ? 4096 : pw * (pw >= 4096 ? 1 : 4096 / pw), blocks = (main + step - 1) / step;
#pragma omp parallel for schedule(static) if (n >= par_min)
  for (int64_t blk = 0; blk < blocks; blk++) {
    const int64_t o = blk * step, end = o + step <= main ? o + step : main;
    if (na == n && nb == n) {
      const float *x = a + o, *y = b + o;
      float *r = out + o;
      const int64_t len = end - o;
      OP_LOOP(r[j] = binop(op_, x[j], y[j]))
    } else if (p == 1) {
      const int64_t len = end - o;
      float *r = out + o;
      if (na == 1) { const float x = a[0], *y = b + o; OP_LOOP(r[j] = binop(op_, x, y[j])) }
      else { const float *x = a + o, y = b[0]; OP_LOOP(r[j] = binop(op_, x[j], y)) }
    } else {
      periodic(op, sa, a_full, sb, out, o, end, pw);
    }
  }
  if (main < n) periodic(op, a, a_full, b, out, main, n, per); /* the periods left over from the groups of k */
  free(rep);
}

/* out [n] = relu(x) (kind 0: x < 0 ? 0 : x) or step(x) (kind 1: NaN stays NaN, x > 0 ? 1 : alpha). */
void fo_unary(int32_t kind, const float *x, float *out, int32_t n, float alpha) {
#pragma omp parallel for schedule(static) if (n >= par_min)
  for (int64_t o = 0; o < n; o += 4096) {
    const int64_t len = o + 4096 <= n ? 4096 : n - o;
    const float *s = x + o;
    float *r = out + o;
    if (kind == 0) for (int64_t j = 0; j < len; j++) r[j] = s[j] < 0 ? 0 : s[j];
    else for (int64_t j = 0; j < len; j++) r[j] = s[j] != s[j] ? s[j] : s[j] > 0 ? 1 : alpha;
  }
}

/*
 * out [n] = (x - mean) * scale / sqrt(variance + eps) + offset over rows of C channels (n = rows * C); each of
 * mean, variance, offset, scale has length C or 1 (nm, nv, no, ns); offset/scale absent when no/ns is 0.
 */
void fo_batchnorm(const float *x, const float *mean, int32_t nm, const float *var, int32_t nv, const float *offset,
                  int32_t no, const float *scale, int32_t ns, float eps, float *out, int32_t n, int32_t C) {
  float *m = malloc(3 * (size_t)C * sizeof(float)), *inv = m + C, *off = inv + C;
  for (int64_t c = 0; c < C; c++) {
    const float s = ns == 0 ? 1 : scale[ns == 1 ? 0 : c];
    m[c] = mean[nm == 1 ? 0 : c];
    inv[c] = s / sqrtf(var[nv == 1 ? 0 : c] + eps);
    off[c] = no == 0 ? 0 : offset[no == 1 ? 0 : c];
  }
  const int64_t rows = n / C, per = C >= 4096 ? 1 : 4096 / C;
#pragma omp parallel for schedule(static) if (n >= par_min)
  for (int64_t r0 = 0; r0 < rows; r0 += per) {
    const int64_t r1 = r0 + per <= rows ? r0 + per : rows;
    for (int64_t r = r0; r < r1; r++) {
      const float *s = x + r * C;
      float *o = out + r * C;
      for (int64_t c = 0; c < C; c++) o[c] = (s[c] - m[c]) * inv[c] + off[c];
    }
  }
  free(m);
}

/* out = max(0, x * scale[c] + shift[c]) over rows of C values (NaN stays NaN, as tfjs's relu): an inference-mode
 * batch norm and the ReLU after it in one pass; lib/core/inference.ts folds the statistics into scale and shift. */
void fo_affine_relu(const float *x, const float *scale, const float *shift, float *out, int32_t n, int32_t C) {
  const int64_t rows = n / C, per = C >= 4096 ? 1 : 4096 / C;
#pragma omp parallel for schedule(static) if (n >= par_min)
  for (int64_t r0 = 0; r0 < rows; r0 += per) {
    const int64_t r1 = r0 + per <= rows ? r0 + per : rows;
    for (int64_t r = r0; r < r1; r++) {
      const float *s = x + r * C;
      float *o = out + r * C;
      for (int64_t c = 0; c < C; c++) {
        const float v = s[c] * scale[c] + shift[c];
        o[c] = v < 0 ? 0 : v;
      }
    }
  }
}

/* dst[r * dstW + dstCol + j] = src[r * srcW + srcCol + j] for r < rows, j < width: one input of a concat, or one
 * output of a split, along any axis (rows = the product of the leading dims). */
void fo_copy_cols(const float *src, int32_t srcW, int32_t srcCol, float *dst, int32_t dstW, int32_t dstCol,
                  int32_t width, int32_t rows) {
#pragma omp parallel for schedule(static) if ((int64_t)rows * width >= par_min)
  for (int64_t r = 0; r < rows; r++) {
    memcpy(dst + r * dstW + dstCol, src + r * srcW + srcCol, (size_t)width * sizeof(float));
  }
}

/* Runs BODY for each in-bounds input position (iy, ix) of the window of output (oy, ox); the geometry (H, W, FH,
 * FW, SH, SW, PT, PL) must be in scope. */
#define FOR_WINDOW(BODY)                                                                                      \
  for (int64_t ky = 0; ky < FH; ky++) {                                                                       \
    const int64_t iy = oy * SH - PT + ky;                                                                     \
    if (iy < 0 || iy >= H) continue;                                                                          \
    for (int64_t kx = 0; kx < FW; kx++) {                                                                     \
      const int64_t ix = ox * SW - PL + kx;                                                                   \
      if (ix < 0 || ix >= W) continue;                                                                        \
      BODY                                                                                                    \
    }                                                                                                         \
  }

/* dx (NHWC, overwritten) = the average-pooling gradient: every dy [N, OH, OW, C] element, times mult, added to
 * each input position of its window (positions in the padding are skipped); geometry g as for im2col. */
void fo_avgpool_grad(const float *dy, float *dx, const int32_t *g, int32_t N, float mult) {
  const int64_t H = g[G_H], W = g[G_W], C = g[G_C], OH = g[G_OH], OW = g[G_OW], FH = g[G_FH], FW = g[G_FW];
  const int64_t SH = g[G_SH], SW = g[G_SW], PT = g[G_PT], PL = g[G_PL];
#pragma omp parallel for schedule(static) if (N * H * W * C >= par_min)
  for (int64_t n = 0; n < N; n++) {
    float *d = dx + n * H * W * C;
    memset(d, 0, (size_t)(H * W * C) * sizeof(float));
    for (int64_t oy = 0; oy < OH; oy++) {
      for (int64_t ox = 0; ox < OW; ox++) {
        const float *s = dy + ((n * OH + oy) * OW + ox) * C;
        FOR_WINDOW({
          float *o = d + (iy * W + ix) * C;
          for (int64_t c = 0; c < C; c++) o[c] += s[c] * mult;
        })
      }
    }
  }
}

/* y [N, OH, OW, C] = average pooling of x (NHWC): the mean of each window's positions inside the input (padding
 * not counted), as tfjs's cpu kernel computes it; geometry g as for im2col. */
void fo_avgpool(const float *x, float *y, const int32_t *g, int32_t N) {
  const int64_t H = g[G_H], W = g[G_W], C = g[G_C], OH = g[G_OH], OW = g[G_OW], FH = g[G_FH], FW = g[G_FW];
  const int64_t SH = g[G_SH], SW = g[G_SW], PT = g[G_PT], PL = g[G_PL];
#pragma omp parallel for collapse(2) schedule(static) if (N * H * W * C >= par_min)
  for (int64_t n = 0; n < N; n++) {
    for (int64_t oy = 0; oy < OH; oy++) {
      const float *xn = x + n * H * W * C;
      float *o = y + (n * OH + oy) * OW * C;
      for (int64_t ox = 0; ox < OW; ox++, o += C) {
        int64_t count = 0;
        for (int64_t c = 0; c < C; c++) o[c] = 0;
        FOR_WINDOW({
          const float *s = xn + (iy * W + ix) * C;
          for (int64_t c = 0; c < C; c++) o[c] += s[c];
          count++;
        })
        const float inv = count ? 1.0f / count : 0;
        for (int64_t c = 0; c < C; c++) o[c] *= inv;
      }
    }
  }
}

/*
 * The batch-norm gradient in one pass over dy and x [rows, C] (mean, variance [C]; scale [C], [1] or absent when
 * ns is 0): dx = dy * scale * inv, d_offset = sum(dy), d_scale = sum(dy * (x - mean)) * inv, d_mean = -d_offset *
 * scale * inv, d_variance = -0.5 * inv^3 * scale * sum(dy * (x - mean)), inv = 1 / sqrt(variance + eps). Sums
 * over rows run per thread in float64 and are added in thread order (the result does not depend on timing).
 */
void fo_batchnorm_grad(const float *dy, const float *x, const float *mean, const float *var, const float *scale,
                       int32_t ns, float eps, float *dx, float *dmean, float *dvar, float *dscale, float *doffset,
                       int32_t n, int32_t C) {
  const int T = fo_threads();
  const int64_t rows = n / C;
  double *acc = calloc((size_t)T * 2 * C, sizeof(double));
  float *inv = malloc(2 * (size_t)C * sizeof(float)), *g = inv + C;
  for (int64_t c = 0; c < C; c++) {
    inv[c] = 1 / sqrtf(var[c] + eps);
    g[c] = (ns == 0 ? 1 : scale[ns == 1 ? 0 : c]) * inv[c];
  }
#pragma omp parallel for schedule(static) if (n >= par_min)
  for (int t = 0; t < T; t++) {
    const int64_t r0 = rows * t / T, r1 = rows * (t + 1) / T;
    double *sdy = acc + (int64_t)t * 2 * C, *sdx = sdy + C;
    for (int64_t r = r0; r < r1; r++) {
      const float *d = dy + r * C, *s = x + r * C;
      float *o = dx + r * C;
      for (int64_t c = 0; c < C; c++) {
        o[c] = d[c] * g[c];
        sdy[c] += d[c];
        sdx[c] += (double)d[c] * (s[c] - mean[c]);
      }
    }
  }
  for (int64_t c = 0; c < C; c++) {
    double a = 0, b = 0;
    for (int t = 0; t < T; t++) { a += acc[(int64_t)t * 2 * C + c]; b += acc[(int64_t)t * 2 * C + C + c]; }
    const double sc = ns == 0 ? 1 : scale[ns == 1 ? 0 : c], iv = inv[c];
    doffset[c] = (float)a;
    dscale[c] = (float)(b * iv);
    dmean[c] = (float)(-a * sc * iv);
    dvar[c] = (float)(-0.5 * iv * iv * iv * sc * b);
  }
  free(inv);
  free(acc);
}

/* The max of one window per channel, as tfjs's cpu kernel takes it: from -inf, a value replaces the maximum only
 * when larger (so NaN is skipped, and a window with nothing above -inf gives -inf). best [C] is overwritten. */
#define WINDOW_MAX(xn, best)                                                                                  \
  for (int64_t c = 0; c < C; c++) best[c] = -INFINITY;                                                        \
  FOR_WINDOW({                                                                                                \
    const float *v = xn + (iy * W + ix) * C;                                                                  \
    for (int64_t c = 0; c < C; c++) best[c] = v[c] > best[c] ? v[c] : best[c];                               \
  })

/* A float's bits and back (for branch-free selects). */
static inline uint32_t bits(float v) {
  uint32_t b;
  memcpy(&b, &v, sizeof b);
  return b;
}
static inline float from_bits(uint32_t b) {
  float v;
  memcpy(&v, &b, sizeof v);
  return v;
}

/* One step of tfjs's scan for the window maximum (WINDOW_MAX): b replaces a only when larger (never when NaN). */
static inline float first_max(float a, float b) { return b > a ? b : a; }

/* One output row of a 2x2, stride-2 max pool: the input rows r0, r1 [2 * OW, C] into y [OW, C]. Inlined with C a
 * constant (pool2x2_rows) so that the channel loop is unrolled and vectorized across windows. */
static inline __attribute__((always_inline)) void pool2x2_row(const float *restrict r0, const float *restrict r1,
                                                               float *restrict y, int64_t OW, const int64_t C) {
  for (int64_t ox = 0; ox < OW; ox++) {
    const float *p = r0 + 2 * ox * C, *q = r1 + 2 * ox * C;
    for (int64_t c = 0; c < C; c++) {
      y[ox * C + c] = first_max(first_max(first_max(first_max(-INFINITY, p[c]), p[C + c]), q[c]), q[C + c]);
    }
  }
}

/* Its gradient: each dy [OW, C] value to the first maximum of its window (in scan order), 0 to the other three
 * positions; nothing when the window's maximum is -inf. Writes every position of the rows d0, d1 [2 * OW, C]. */
static inline __attribute__((always_inline)) void pool2x2_grad_row(const float *restrict r0, const float *restrict r1,
                                                                    const float *restrict dy, float *restrict d0,
                                                                    float *restrict d1, int64_t OW, const int64_t C) {
  for (int64_t ox = 0; ox < OW; ox++) {
    const float *restrict p = r0 + 2 * ox * C, *restrict q = r1 + 2 * ox * C;
    float *restrict u = d0 + 2 * ox * C, *restrict v = d1 + 2 * ox * C;
    for (int64_t c = 0; c < C; c++) {
      const float a = p[c], b = p[C + c], e = q[c], f = q[C + c];
      const float m = first_max(first_max(first_max(first_max(-INFINITY, a), b), e), f);
      /* bit masks, not branches (which of the four is the maximum is data, and mispredicted) */
      const uint32_t ha = -(uint32_t)(a == m), hb = -(uint32_t)(b == m) & ~ha;
      const uint32_t he = -(uint32_t)(e == m) & ~(ha | hb), hf = -(uint32_t)(f == m) & ~(ha | hb | he);
      const uint32_t g = bits(dy[ox * C + c]) & -(uint32_t)(m > -INFINITY);
      u[c] = from_bits(g & ha);
      u[C + c] = from_bits(g & hb);
      v[c] = from_bits(g & he);
      v[C + c] = from_bits(g & hf);
    }
  }
}

/* Runs CALL(C) with C a compile-time constant for the channel counts of the zoo's pools, else with the variable. */
#define WITH_CONST_C(C, CALL)                                                                                 \
  switch (C) {                                                                                                \
    case 1: CALL(1); break;                                                                                   \
    case 3: CALL(3); break;                                                                                   \
    case 6: CALL(6); break;                                                                                   \
    case 8: CALL(8); break;                                                                                   \
    case 16: CALL(16); break;                                                                                 \
    case 32: CALL(32); break;                                                                                 \
    case 64: CALL(64); break;                                                                                 \
    default: CALL(C); break;                                                                                  \
  }

/* 2x2 stride-2 windows with no padding above or left (the zoo's pools): rows [oy0, oy1) of y (or of the
 * gradient: dx rows 2 oy0 .. 2 oy1 from dy) of image n. */
static void pool2x2_rows(const float *xn, const float *dyn, float *out, int64_t W, int64_t OW, int64_t C,
                         int64_t oy0, int64_t oy1) {
  for (int64_t oy = oy0; oy < oy1; oy++) {
    const float *r0 = xn + 2 * oy * W * C, *r1 = r0 + W * C;
    if (!dyn) {
#define FWD(K) pool2x2_row(r0, r1, out + oy * OW * C, OW, K)
      WITH_CONST_C(C, FWD)
#undef FWD
    } else {
      float *d0 = out + 2 * oy * W * C;
#define GRAD(K) pool2x2_grad_row(r0, r1, dyn + oy * OW * C, d0, d0 + W * C, OW, K)
      WITH_CONST_C(C, GRAD)
#undef GRAD
    }
  }
}

/* True for 2x2 stride-2 windows without padding above or left (any padding below or right is never read). */
static int is_pool2x2(const int32_t *g) {
  return g[G_FH] == 2 && g[G_FW] == 2 && g[G_SH] == 2 && g[G_SW] == 2 && g[G_PT] == 0 && g[G_PL] == 0 &&
         2 * g[G_OH] <= g[G_H] && 2 * g[G_OW] <= g[G_W];
}

/* y [N, OH, OW, C] = max pooling of x (NHWC) over each window (padding positions skipped), as tfjs's cpu kernel
 * computes it (WINDOW_MAX); geometry g as for im2col. */
void fo_maxpool(const float *x, float *y, const int32_t *g, int32_t N) {
  const int64_t H = g[G_H], W = g[G_W], C = g[G_C], OH = g[G_OH], OW = g[G_OW], FH = g[G_FH], FW = g[G_FW];
  const int64_t SH = g[G_SH], SW = g[G_SW], PT = g[G_PT], PL = g[G_PL];
  const int two = is_pool2x2(g);
#pragma omp parallel for collapse(2) schedule(static) if (N * H * W * C >= par_min)
  for (int64_t n = 0; n < N; n++) {
    for (int64_t oy = 0; oy < OH; oy++) {
      const float *xn = x + n * H * W * C;
      float *o = y + (n * OH + oy) * OW * C;
      if (two) {
        pool2x2_rows(xn, NULL, y + n * OH * OW * C, W, OW, C, oy, oy + 1);
        continue;
      }
      for (int64_t ox = 0; ox < OW; ox++, o += C) {
        WINDOW_MAX(xn, o)
      }
    }
  }
}

/* The max-pooling gradient when no two windows overlap (stride >= window): dx of each window position is its dy
 * where the position holds the window's first maximum (in window scan order), else 0, written once without a
 * scatter; positions outside every window are zeroed first. */
static void maxpool_grad_tiled(const float *x, const float *dy, float *dx, const int32_t *g, int64_t N) {
  const int64_t H = g[G_H], W = g[G_W], C = g[G_C], OH = g[G_OH], OW = g[G_OW], FH = g[G_FH], FW = g[G_FW];
  const int64_t SH = g[G_SH], SW = g[G_SW], PT = g[G_PT], PL = g[G_PL];
  const int two = is_pool2x2(g), covered = two && 2 * OH == H && 2 * OW == W;
#pragma omp parallel if (N * H * W * C >= par_min)
  {
    float *best = malloc((size_t)C * 2 * sizeof(float)), *left = best + C;
#pragma omp for schedule(static)
    for (int64_t n = 0; n < N; n++) {
      const float *xn = x + n * H * W * C;
      float *d = dx + n * H * W * C;
      if (!covered) memset(d, 0, (size_t)(H * W * C) * sizeof(float));
      if (two) {
        pool2x2_rows(xn, dy + n * OH * OW * C, d, W, OW, C, 0, OH);
        continue;
      }
      for (int64_t oy = 0; oy < OH; oy++) {
        for (int64_t ox = 0; ox < OW; ox++) {
          WINDOW_MAX(xn, best)
          const float *s = dy + ((n * OH + oy) * OW + ox) * C;
          for (int64_t c = 0; c < C; c++) left[c] = best[c] > -INFINITY ? s[c] : 0;
          FOR_WINDOW({
            const int64_t o = (iy * W + ix) * C;
            for (int64_t c = 0; c < C; c++) {
              const int hit = xn[o + c] == best[c];
              d[o + c] = hit ? left[c] : 0;
              left[c] = hit ? 0 : left[c];
            }
          })
        }
      }
    }
    free(best);
  }
}

/* dx (NHWC, overwritten) = the max-pooling gradient: each dy [N, OH, OW, C] element goes to the first position
 * (in window scan order) of the largest x in its window, as tfjs's reference kernel picks it; geometry g as for
 * im2col. A window with no value above -inf passes nothing. */
void fo_maxpool_grad(const float *x, const float *dy, float *dx, const int32_t *g, int32_t N) {
  const int64_t H = g[G_H], W = g[G_W], C = g[G_C], OH = g[G_OH], OW = g[G_OW], FH = g[G_FH], FW = g[G_FW];
  const int64_t SH = g[G_SH], SW = g[G_SW], PT = g[G_PT], PL = g[G_PL];
  if (SH >= FH && SW >= FW) {
    maxpool_grad_tiled(x, dy, dx, g, N);
    return;
  }
#pragma omp parallel if (N * H * W * C >= par_min)
  {
    float *best = malloc((size_t)C * sizeof(float));
    int64_t *at = malloc((size_t)C * sizeof(int64_t));
#pragma omp for schedule(static)
    for (int64_t n = 0; n < N; n++) {
      const float *xn = x + n * H * W * C;
      float *d = dx + n * H * W * C;
      memset(d, 0, (size_t)(H * W * C) * sizeof(float));
      for (int64_t oy = 0; oy < OH; oy++) {
        for (int64_t ox = 0; ox < OW; ox++) {
          for (int64_t c = 0; c < C; c++) { best[c] = -INFINITY; at[c] = -1; }
          FOR_WINDOW({
            const int64_t o = (iy * W + ix) * C;
            for (int64_t c = 0; c < C; c++) {
              if (xn[o + c] > best[c]) { best[c] = xn[o + c]; at[c] = o + c; }
            }
          })
          const float *s = dy + ((n * OH + oy) * OW + ox) * C;
          for (int64_t c = 0; c < C; c++) if (at[c] >= 0) d[at[c]] += s[c];
        }
      }
    }
    free(at);
    free(best);
  }
}

/* One Adam step over n weights in tfjs's order of float32 operations: m' = m * b1 + g * a1, v' = v * b2 + g^2 * a2,
 * w' = (m' / c1) / (sqrt(v' / c2) + eps) * -lr + w, with a1 = 1 - b1 and a2 = 1 - b2 as tfjs rounds them (from
 * double), c1 = 1 - b1^t, c2 = 1 - b2^t. No fused multiply-adds, so each step rounds as tfjs's kernels do. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif
/* One block of fo_adam; restrict (the outputs are new tensors) and no errno (the build's -fno-math-errno) let it
 * vectorize: 8x faster than the scalar loop at 200k weights, with bit-identical results. */
static void adam_block(const float *restrict w, const float *restrict m, const float *restrict v,
                       const float *restrict g, int64_t n, float b1, float b2, float a1, float a2, float c1, float c2,
                       float nlr, float eps, float *restrict w1, float *restrict m1, float *restrict v1) {
  for (int64_t i = 0; i < n; i++) {
    const float nm = m[i] * b1 + g[i] * a1, nv = v[i] * b2 + (g[i] * g[i]) * a2;
    m1[i] = nm;
    v1[i] = nv;
    w1[i] = ((nm / c1) / (sqrtf(nv / c2) + eps)) * nlr + w[i];
  }
}
void fo_adam(const float *w, const float *m, const float *v, const float *g, int32_t n, float b1, float b2, float a1,
             float a2, float c1, float c2, float lr, float eps, float *w1, float *m1, float *v1) {
  const float nlr = -lr;
#pragma omp parallel for schedule(static) if (n >= par_min)
  for (int64_t o = 0; o < n; o += 4096) {
    const int64_t len = o + 4096 <= n ? 4096 : n - o;
    adam_block(w + o, m + o, v + o, g + o, len, b1, b2, a1, a2, c1, c2, nlr, eps, w1 + o, m1 + o, v1 + o);
  }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

/* Softmax cross-entropy of logits x [rows, cols] against label rows p (tfjs's softmaxCrossEntropy without weights or
 * smoothing): loss_i = -sum_j p_ij (x_ij - lse_i), lse_i = max_i + log(sum_j exp(x_ij - max_i)), in double. Writes
 * loss [rows], or (mean != 0) their mean into loss[0]. */
void fo_softmax_ce(const float *p, const float *x, float *loss, int32_t rows, int32_t cols, int32_t mean) {
  double total = 0;
  for (int64_t i = 0; i < rows; i++) {
    const float *xi = x + i * cols, *pi = p + i * cols;
    double mx = xi[0], s = 0, l = 0;
    for (int64_t j = 1; j < cols; j++) mx = xi[j] > mx ? xi[j] : mx;
    for (int64_t j = 0; j < cols; j++) s += exp((double)xi[j] - mx);
    const double lse = mx + log(s);
    for (int64_t j = 0; j < cols; j++) l -= (double)pi[j] * ((double)xi[j] - lse);
    if (mean) total += l;
    else loss[i] = (float)l;
  }
  if (mean) loss[0] = (float)(total / rows);
}

/* Its gradient with respect to the logits: dx_ij = d_i (softmax(x_i)_j - p_ij), d_i = dy[i], or dy[0] / rows when
 * the loss was the mean. */
void fo_softmax_ce_grad(const float *dy, const float *p, const float *x, float *dx, int32_t rows, int32_t cols,
                        int32_t mean) {
  for (int64_t i = 0; i < rows; i++) {
    const float *xi = x + i * cols, *pi = p + i * cols;
    const double d = mean ? (double)dy[0] / rows : dy[i];
    double mx = xi[0], s = 0;
    for (int64_t j = 1; j < cols; j++) mx = xi[j] > mx ? xi[j] : mx;
    for (int64_t j = 0; j < cols; j++) s += exp((double)xi[j] - mx);
    for (int64_t j = 0; j < cols; j++) dx[i * cols + j] = (float)(d * (exp((double)xi[j] - mx) / s - pi[j]));
  }
}

/* The sum of squares of v[0..d) in double, over 8 partial sums (so that it vectorizes; one running sum is a
 * chain of dependent additions: fo_l2_step on 128 x 784 took 205 us with it, 50 us with these, on one thread). */
static double sum_squares(const float *v, int64_t d) {
  double part[8] = {0};
  int64_t j = 0;
  for (; j + 8 <= d; j += 8)
    for (int l = 0; l < 8; l++) part[l] += (double)v[j + l] * v[j + l];
  double total = 0;
  for (; j < d; j++) total += (double)v[j] * v[j];
  for (int l = 0; l < 8; l++) total += part[l];
  return total;
}

/* One L2 PGD step on rows of d values (one row per example): s = step / (||g|| + 1e-12), e = delta + s g,
 * f = min(1, eps / (||e|| + 1e-12)), out = clip(x + f e, 0, 1) - x (the next delta); norms in double. */
void fo_l2_step(const float *x, const float *delta, const float *g, float *out, int32_t rows, int32_t d, float step,
                float eps) {
#pragma omp parallel for schedule(static) if ((int64_t)rows * d >= par_min)
  for (int64_t i = 0; i < rows; i++) {
    const float *xi = x + i * d, *di = delta + i * d, *gi = g + i * d;
    float *oi = out + i * d;
    const float s = (float)(step / (sqrt(sum_squares(gi, d)) + 1e-12));
    for (int64_t j = 0; j < d; j++) oi[j] = di[j] + gi[j] * s;
    const double r = eps / (sqrt(sum_squares(oi, d)) + 1e-12);
    const float f = r < 1 ? (float)r : 1.0f;
    for (int64_t j = 0; j < d; j++) {
      const float v = xi[j] + oi[j] * f;
      oi[j] = (v < 0 ? 0 : v > 1 ? 1 : v) - xi[j];
    }
  }
}

/* The ReLU gradient from its output: out = dy * step(y) (1 where y > 0, 0 elsewhere, NaN where y is NaN). */
void fo_relu_grad(const float *dy, const float *y, float *out, int32_t n) {
#pragma omp parallel for schedule(static) if (n >= par_min)
  for (int64_t i = 0; i < n; i++) out[i] = dy[i] * (y[i] != y[i] ? y[i] : y[i] > 0 ? 1.0f : 0.0f);
}
