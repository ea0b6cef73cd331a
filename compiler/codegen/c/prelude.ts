// The text every generated C kernel starts with: headers, the OpenMP fallback, the scalar and
// 16-lane math the bodies call. GCC/Clang vector extensions rather than intrinsics: the same
// source compiles to AVX-512 with -march=native on this machine, to AVX2 or NEON elsewhere.
//
// exp is computed here instead of by libm's expf: a libm call is opaque to the vectoriser, and
// gelu/softmax/attention call exp once per element. Cephes' expf (range reduction by ln 2,
// degree-6 polynomial, exponent bits built directly): within 2 ulp, exp(x) = 0 below -88.37 and
// +inf above 88.37, NaN stays NaN.

export const PRELUDE = String.raw`#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#else
static inline int omp_get_thread_num(void) { return 0; }
static inline int omp_get_num_threads(void) { return 1; }
#endif

static inline float medctc_u32_as_f32(unsigned int u) { float f; memcpy(&f, &u, 4); return f; }

/* 16-bit storage (precision bf16|fp16): widening is exact; narrowing rounds to nearest, ties to
   even, on the bits (NaN stays a quiet NaN, f16 overflows to inf, f16 subnormals are kept), the
   same rule as runtime/util/half.ts and torch's .to(torch.bfloat16 / torch.float16). */
static inline float medctc_bf16_to_f32(uint16_t h) { return medctc_u32_as_f32((unsigned int)h << 16); }
static inline uint16_t medctc_f32_to_bf16(float f) {
  unsigned int u; memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
/* f16 without branches (selects over integer and float ops), so loops of them vectorise: normal
   and subnormal halves by rebiasing the exponent (a subnormal through one exact subtraction of
   2^-14), narrowing to a subnormal through one float add of 0.5 that rounds to nearest even;
   F. Giesen's conversions, with NaN payloads kept. */
static inline float medctc_f16_to_f32(uint16_t h) {
  const unsigned int s = (unsigned int)(h & 0x8000u) << 16, m = (unsigned int)(h & 0x7fffu) << 13, e = m & 0x0f800000u;
  const unsigned int n = m + 0x38000000u; /* exponent rebiased by 127 - 15 */
  const float sub = medctc_u32_as_f32(n + 0x00800000u) - medctc_u32_as_f32(0x38800000u);
  unsigned int subu; memcpy(&subu, &sub, 4);
  const unsigned int u = e == 0x0f800000u ? n + 0x38000000u : (e == 0u ? subu : n);
  return medctc_u32_as_f32(u | s);
}
static inline uint16_t medctc_f32_to_f16(float f) {
  unsigned int u; memcpy(&u, &f, 4);
  const unsigned int s = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
  const float d = medctc_u32_as_f32(a) + 0.5f; /* 2^-24 lands in the last place of 0.5's mantissa */
  unsigned int du; memcpy(&du, &d, 4);
  const unsigned int sub = du - 0x3f000000u;
  const unsigned int nrm = (a + 0xc8000fffu + ((a >> 13) & 1u)) >> 13; /* (15 - 127) << 23, + rounding */
  const unsigned int r = a > 0x7f800000u ? (0x7e00u | ((a >> 13) & 0x3ffu)) : a >= 0x477ff000u ? 0x7c00u : a < 0x38800000u ? sub : nrm;
  return (uint16_t)(s | r);
}

static inline float medctc_expf(float x) {
  const float hi = 88.3762626647949f, lo = -88.3762626647949f;
  float xc = x > hi ? hi : x;
  xc = xc < lo ? lo : xc;
  const float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = xc - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f; p = p * r + 8.3334519073e-3f; p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f; p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int e = (int)n + 127;
  const unsigned int bits = (unsigned int)(e < 0 ? 0 : e) << 23;
  float scale; memcpy(&scale, &bits, 4);
  const float out = p * scale;
  return x != x ? x : (x > hi ? INFINITY : out);
}

typedef float v16 __attribute__((vector_size(64), aligned(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4)));
typedef int i16v __attribute__((vector_size(64), aligned(64)));

static inline v16 v16_load(const float *p) { return *(const v16u *)p; }
static inline void v16_store(float *p, v16 v) { *(v16u *)p = v; }
static inline v16 v16_splat(float x) { return (v16){0} + x; }
static inline v16 v16_select(i16v m, v16 a, v16 b) { return (v16)(((i16v)a & m) | ((i16v)b & ~m)); }

static inline v16 v16_exp(v16 x) {
  const v16 hi = v16_splat(88.3762626647949f), lo = v16_splat(-88.3762626647949f);
  v16 xc = v16_select(x > hi, hi, x);
  xc = v16_select(xc < lo, lo, xc);
  const v16 n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const v16 r = xc - n * 0.693359375f + n * 2.12194440e-4f;
  v16 p = v16_splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f; p = p * r + 8.3334519073e-3f; p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f; p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  i16v e = __builtin_convertvector(n, i16v) + 127;
  e = e & (e > 0);
  const v16 out = p * (v16)(e << 23);
  const v16 inf = v16_splat(INFINITY);
  return v16_select(x != x, x, v16_select(x > hi, inf, out));
}

/* gelu(v) = 0.5·v·(1 + erf(v/√2)), erf by the Numerical Recipes fit the other targets use. */
static inline v16 v16_gelu(v16 v) {
  const v16 x = v * 0.707106769084930f;
  const v16 z = v16_select(x < 0.0f, -x, x);
  const v16 t = 1.0f / (1.0f + 0.5f * z);
  v16 poly = v16_splat(0.17087277f);
  poly = -0.82215223f + t * poly; poly = 1.48851587f + t * poly; poly = -1.13520398f + t * poly;
  poly = 0.27886807f + t * poly; poly = -0.18628806f + t * poly; poly = 0.09678418f + t * poly;
  poly = 0.37409196f + t * poly; poly = 1.00002368f + t * poly;
  const v16 r = t * v16_exp(-z * z + -1.26551223f + t * poly);
  const v16 erf = v16_select(x >= 0.0f, 1.0f - r, r - 1.0f);
  return 0.5f * v * (1.0f + erf);
}

/* Partial vectors at the right edge of a tile: through a zero-padded copy. */
static inline v16 v16_loadn(const float *p, int n) {
  if (n >= 16) return v16_load(p);
  float t[16] __attribute__((aligned(64))) = {0};
  memcpy(t, p, (size_t)n * 4);
  return v16_load(t);
}
/* A 16-bit residual row of a GEMM epilogue, widened. */
static inline v16 v16_loadn_bf16(const uint16_t *p, int n) {
  float t[16] __attribute__((aligned(64))) = {0};
  for (int l = 0; l < (n < 16 ? n : 16); l++) t[l] = medctc_bf16_to_f32(p[l]);
  return v16_load(t);
}
static inline v16 v16_loadn_f16(const uint16_t *p, int n) {
  float t[16] __attribute__((aligned(64))) = {0};
  for (int l = 0; l < (n < 16 ? n : 16); l++) t[l] = medctc_f16_to_f32(p[l]);
  return v16_load(t);
}
static inline void v16_storen(float *p, v16 v, int n) {
  if (n >= 16) { v16_store(p, v); return; }
  float t[16] __attribute__((aligned(64)));
  v16_store(t, v);
  memcpy(p, t, (size_t)n * 4);
}

static inline void *medctc_alloc(size_t bytes) {
  void *p = aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
  if (!p) abort();
  return p;
}
`;
