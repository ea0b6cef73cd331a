// medctc kernel layer_norm_backward_bias_eps0p00001_n37_rows13 (CUDA), generated: do not edit.
//   layer_norm backward over [13,37]: dx (per row), dgamma/dbeta (per column)
// bindings: x[481] f32, gamma[37] f32, dy[481] f32, dx[481] f32 (out), dgamma[37] f32 (out), dbeta[37] f32 (out), stats[26] f32 (out)

extern "C" __global__ void __launch_bounds__(64) layer_norm_backward_rows(const float* __restrict__ x, const float* __restrict__ gamma, const float* __restrict__ dy, float* __restrict__ dx, float* __restrict__ dgamma, float* __restrict__ dbeta, float* __restrict__ stats) {
  const int tx = threadIdx.x; const int ty = threadIdx.y; const int bx = blockIdx.x; const int by = blockIdx.y; const int bz = blockIdx.z; const int gx = gridDim.x;
  (void)tx; (void)ty; (void)bx; (void)by; (void)bz; (void)gx;
  const int i = ((by * gx + bx) * 64 + tx);
  if (i < 13) {
    const int o = i * 37;
    float s = 0.0f;
    for (int j = 0; j < 37; j += 1) { s += x[o + j]; }
    const float mean = s / 37.0f;
    float q = 0.0f;
    for (int j = 0; j < 37; j += 1) { q += (x[o + j] - mean) * (x[o + j] - mean); }
    const float rstd = 1.0f / sqrtf(q / 37.0f + 0.000009999999747378752f);
    stats[2 * i] = mean;
    stats[2 * i + 1] = rstd;
    float g1 = 0.0f;
    for (int j = 0; j < 37; j += 1) { g1 += dy[o + j] * gamma[j]; }
    float g2 = 0.0f;
    for (int j = 0; j < 37; j += 1) { g2 += dy[o + j] * gamma[j] * (x[o + j] - mean) * rstd; }
    for (int j = 0; j < 37; j += 1) { dx[o + j] = rstd * (dy[o + j] * gamma[j] - g1 / 37.0f - (x[o + j] - mean) * rstd * g2 / 37.0f); }
  }
}

extern "C" __global__ void __launch_bounds__(256) layer_norm_backward_cols(const float* __restrict__ x, const float* __restrict__ gamma, const float* __restrict__ dy, float* __restrict__ dx, float* __restrict__ dgamma, float* __restrict__ dbeta, float* __restrict__ stats) {
  const int tx = threadIdx.x; const int ty = threadIdx.y; const int bx = blockIdx.x; const int by = blockIdx.y; const int bz = blockIdx.z; const int gx = gridDim.x;
  (void)tx; (void)ty; (void)bx; (void)by; (void)bz; (void)gx;
  const int i = ((by * gx + bx) * 256 + tx);
  if (i < 37) {
    float dg = 0.0f;
    float db = 0.0f;
    for (int r = 0; r < 13; r += 1) { const float g = dy[r * 37 + i]; dg += g * (x[r * 37 + i] - stats[2 * r]) * stats[2 * r + 1]; db += g; }
    dgamma[i] = dg;
    dbeta[i] = db;
  }
}
