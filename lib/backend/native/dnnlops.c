// Convolutions of the fast backend on oneDNN (libdnnl, the library PyTorch's CPU convolutions run on): forward,
// backward data and backward weights on NHWC activations and tfjs's HWIO filters. Built and verified by
// lib/backend/dnnl.ts (cc -O2 ... -ldnnl) and called through Deno FFI on the wasm heap; primitives are created
// once per geometry and kept (oneDNN JIT-compiles them), filters are reordered to the layout oneDNN picks.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <oneapi/dnnl/dnnl.h>

/* Geometry g[0..14]: N, H, W, C, OH, OW, FH, FW, SH, SW, PT, PL, PB, PR, CO. */
enum { G_N, G_H, G_W, G_C, G_OH, G_OW, G_FH, G_FW, G_SH, G_SW, G_PT, G_PL, G_PB, G_PR, G_CO, G_LEN };
/* What to compute: y = conv(x, w); dx from dy and w; dw from x and dy. */
enum { K_FWD, K_BWD_DATA, K_BWD_WEIGHTS, K_KINDS };

typedef struct {
  int kind;
  int32_t g[G_LEN];
  dnnl_primitive_t prim;
  dnnl_primitive_t reorder; /* filter HWIO -> the primitive's layout (fwd, bwd data) or back (bwd weights) */
  dnnl_memory_desc_t act_a, act_b, user_w, prim_w; /* NHWC descriptors of the two activations; filter layouts */
  float *w_buf;                                    /* the filter in the primitive's layout when it differs */
} entry_t;

#define MAX_ENTRIES 256
static entry_t entries[MAX_ENTRIES];
static int n_entries = 0, next_victim = 0;
static dnnl_engine_t engine = NULL;
static dnnl_stream_t stream = NULL;

/* oneDNN's version as major * 10000 + minor * 100 + patch (checks the library loads). */
int32_t dn_version(void) {
  const dnnl_version_t *v = dnnl_version();
  return v->major * 10000 + v->minor * 100 + v->patch;
}

static int init(void) {
  if (engine) return 0;
  if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success) return -1;
  if (dnnl_stream_create(&stream, engine, dnnl_stream_default_flags) != dnnl_success) return -1;
  return 0;
}

static void release(entry_t *e) {
  if (e->prim) dnnl_primitive_destroy(e->prim);
  if (e->reorder) dnnl_primitive_destroy(e->reorder);
  free(e->w_buf);
  memset(e, 0, sizeof *e);
}

/* Descriptors and the primitive (plus a filter reorder when oneDNN wants another layout) for one geometry. */
static int create(entry_t *e) {
  const int32_t *g = e->g;
  dnnl_memory_desc_t src, dst, w_user, w_any;
  dnnl_dims_t sd = {g[G_N], g[G_C], g[G_H], g[G_W]}, dd = {g[G_N], g[G_CO], g[G_OH], g[G_OW]};
  dnnl_dims_t wd = {g[G_CO], g[G_C], g[G_FH], g[G_FW]};
  dnnl_dims_t strides = {g[G_SH], g[G_SW]}, pl = {g[G_PT], g[G_PL]}, pr = {g[G_PB], g[G_PR]};
  if (dnnl_memory_desc_init_by_tag(&src, 4, sd, dnnl_f32, dnnl_nhwc) ||
      dnnl_memory_desc_init_by_tag(&dst, 4, dd, dnnl_f32, dnnl_nhwc) ||
      dnnl_memory_desc_init_by_tag(&w_user, 4, wd, dnnl_f32, dnnl_hwio) ||
      dnnl_memory_desc_init_by_tag(&w_any, 4, wd, dnnl_f32, dnnl_format_tag_any))
    return 1;
  dnnl_convolution_desc_t fd, od;
  dnnl_primitive_desc_t fpd = NULL, pd = NULL;
  int st = dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct, &src, &w_any,
                                               NULL, &dst, strides, pl, pr);
  if (!st) st = dnnl_primitive_desc_create(&fpd, &fd, NULL, engine, NULL);
  if (st) return 2;
  if (e->kind == K_FWD) {
    pd = fpd;
    fpd = NULL;
  } else {
    st = e->kind == K_BWD_DATA
             ? dnnl_convolution_backward_data_desc_init(&od, dnnl_convolution_direct, &src, &w_any, &dst, strides,
                                                        pl, pr)
             : dnnl_convolution_backward_weights_desc_init(&od, dnnl_convolution_direct, &src, &w_any, NULL, &dst,
                                                           strides, pl, pr);
    if (!st) st = dnnl_primitive_desc_create(&pd, &od, NULL, engine, fpd);
    dnnl_primitive_desc_destroy(fpd);
    if (st) return 3;
  }
  const dnnl_memory_desc_t *pw =
      dnnl_primitive_desc_query_md(pd, e->kind == K_BWD_WEIGHTS ? dnnl_query_diff_weights_md : dnnl_query_weights_md, 0);
  e->prim_w = *pw;
  e->user_w = w_user;
  e->act_a = e->kind == K_BWD_DATA ? dst : src; /* fwd, bwd weights: x; bwd data: dy */
  e->act_b = e->kind == K_BWD_DATA ? src : dst; /* fwd: y; bwd weights: dy; bwd data: dx */
  st = dnnl_primitive_create(&e->prim, pd);
  dnnl_primitive_desc_destroy(pd);
  if (st) return 4;
  if (!dnnl_memory_desc_equal(&e->prim_w, &e->user_w)) {
    dnnl_primitive_desc_t rpd;
    const dnnl_memory_desc_t *from = e->kind == K_BWD_WEIGHTS ? &e->prim_w : &e->user_w;
    const dnnl_memory_desc_t *to = e->kind == K_BWD_WEIGHTS ? &e->user_w : &e->prim_w;
    if (dnnl_reorder_primitive_desc_create(&rpd, from, engine, to, engine, NULL)) return 5;
    st = dnnl_primitive_create(&e->reorder, rpd);
    dnnl_primitive_desc_destroy(rpd);
    if (st) return 5;
    e->w_buf = aligned_alloc(64, (dnnl_memory_desc_get_size(&e->prim_w) + 63) / 64 * 64);
    if (!e->w_buf) return 6;
  }
  return 0;
}

static entry_t *lookup(int kind, const int32_t *g, int *status) {
  for (int i = 0; i < n_entries; i++) {
    if (entries[i].kind == kind && !memcmp(entries[i].g, g, sizeof entries[i].g)) return &entries[i];
  }
  entry_t *e;
  if (n_entries < MAX_ENTRIES) {
    e = &entries[n_entries++];
  } else { /* full: replace in turn (a zoo model has far fewer geometries) */
    e = &entries[next_victim];
    next_victim = (next_victim + 1) % MAX_ENTRIES;
    release(e);
  }
  e->kind = kind;
  memcpy(e->g, g, sizeof e->g);
  *status = create(e);
  if (*status) {
    release(e);
    if (e == &entries[n_entries - 1]) n_entries--;
    return NULL;
  }
  return e;
}

static int run(dnnl_primitive_t p, int n, const int *keys, const dnnl_memory_t *mems) {
  dnnl_exec_arg_t args[4];
  for (int i = 0; i < n; i++) {
    args[i].arg = keys[i];
    args[i].memory = mems[i];
  }
  if (dnnl_primitive_execute(p, stream, n, args)) return 20;
  return dnnl_stream_wait(stream) ? 21 : 0;
}

/*
 * One convolution `kind` of geometry g: fwd y = conv(a = x, b = w); bwd data dx = (a = dy, b = w); bwd weights
 * dw = (a = x, b = dy). Activations NHWC, filters HWIO [FH, FW, C, CO]. Returns 0, or a nonzero status (the
 * caller falls back to its own kernels): 1-6 the primitive could not be created, 20-21 execution failed.
 */
int32_t dn_conv(int32_t kind, const int32_t *g, const float *a, const float *b, float *out) {
  if (kind < 0 || kind >= K_KINDS) return 7;
  if (init()) return 8;
  int status = 0;
  entry_t *e = lookup(kind, g, &status);
  if (!e) return status;
  dnnl_memory_t m[2] = {NULL, NULL}, wu = NULL, wp = NULL;
  int st = 0;
  const float *w_in = kind == K_BWD_WEIGHTS ? NULL : b;
  void *w_prim = e->reorder ? (void *)e->w_buf : (void *)(kind == K_BWD_WEIGHTS ? out : w_in);
  if (dnnl_memory_create(&wp, &e->prim_w, engine, w_prim)) return 9;
  if (e->reorder && dnnl_memory_create(&wu, &e->user_w, engine, kind == K_BWD_WEIGHTS ? out : (void *)w_in)) {
    st = 9;
    goto done;
  }
  if (e->reorder && kind != K_BWD_WEIGHTS) {
    int rk[2] = {DNNL_ARG_FROM, DNNL_ARG_TO};
    dnnl_memory_t rm[2] = {wu, wp};
    if ((st = run(e->reorder, 2, rk, rm))) goto done;
  }
  /* a: x (fwd, bwd weights) or dy (bwd data); the other activation: y or dx (written), or dy (read) */
  if (dnnl_memory_create(&m[0], &e->act_a, engine, (void *)a) ||
      dnnl_memory_create(&m[1], &e->act_b, engine, kind == K_BWD_WEIGHTS ? (void *)b : out)) {
    st = 9;
    goto done;
  }
  static const int keys[K_KINDS][3] = {
      {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST},
      {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC},
      {DNNL_ARG_SRC, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_DST},
  };
  dnnl_memory_t mm[3] = {m[0], wp, m[1]};
  st = run(e->prim, 3, keys[kind], mm);
  if (!st && e->reorder && kind == K_BWD_WEIGHTS) { /* the weight gradient back to HWIO */
    int rk[2] = {DNNL_ARG_FROM, DNNL_ARG_TO};
    dnnl_memory_t rm[2] = {wp, wu};
    st = run(e->reorder, 2, rk, rm);
  }
done:
  for (int i = 0; i < 2; i++)
    if (m[i]) dnnl_memory_destroy(m[i]);
  if (wu) dnnl_memory_destroy(wu);
  if (wp) dnnl_memory_destroy(wp);
  return st;
}

/* C [m, n] = op(A) op(B) + beta C, row-major, as cblas_sgemm (ta, tb: 0 or 1), on oneDNN's JIT sgemm (threaded
 * with OpenMP); returns 0, or oneDNN's nonzero status. */
int32_t dn_sgemm(int32_t ta, int32_t tb, int32_t m, int32_t n, int32_t k, const float *a, int32_t lda, const float *b,
                 int32_t ldb, float beta, float *c, int32_t ldc) {
  return dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc) == dnnl_success ? 0
                                                                                                           : 1;
}
