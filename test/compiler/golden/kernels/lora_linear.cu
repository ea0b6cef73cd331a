// medctc kernel lora_linear_bias_dropout0p1_k24_m37_n20_r4_residual_scaling2_stream1 (CUDA), generated: do not edit.
//   stage 1 lora_shrink: s[37,4] = 2·dropout(x[37,24], p=0.1, stream 1)·Aᵀ
//   stage 2 lora_expand: y[37,20] = x·Wᵀ + s·Bᵀ + bias, + residual (one GEMM over K = 24 + 4)
// bindings: x[888] f32, w[480] f32, lora_a[96] f32, lora_b[80] f32, bias[20] f32, residual[740] f32, params[4] u32, y[740] f32 (out), s[148] f32 (out)

__device__ unsigned int dropout_bits(unsigned int seed, unsigned int idx) {
  unsigned int h = ((idx * 0x9E3779B9u) ^ seed);
  h = h ^ (h >> 16u);
  h = h * 0x7feb352du;
  h = h ^ (h >> 15u);
  h = h * 0x846ca68bu;
  h = h ^ (h >> 16u);
  return h >> 8u;
}

extern "C" __global__ void __launch_bounds__(256) lora_shrink(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ lora_a, const float* __restrict__ lora_b, const float* __restrict__ bias, const float* __restrict__ residual, const unsigned int* __restrict__ params, float* __restrict__ y, float* __restrict__ s) {
  __shared__ float As[1024];
  __shared__ float Bs[256];
  const int tx = threadIdx.x; const int ty = threadIdx.y; const int bx = blockIdx.x; const int by = blockIdx.y; const int bz = blockIdx.z; const int gx = gridDim.x;
  (void)tx; (void)ty; (void)bx; (void)by; (void)bz; (void)gx;
  const int lin = ty * 16 + tx;
  const int row0 = by * 64;
  const int col0 = bx * 16;
  float acc[4] = {};
  float ra[4] = {};
  float rb[1] = {};
  // segment 0: x · lora_aᵀ over K = 24
  for (int k0_0 = 0; k0_0 < 24; k0_0 += 16) {
  {
    const int kk = ((lin + 0) % 16); const int oo = ((lin + 0) / 16);
    const int gk = k0_0 + kk; const int go = row0 + oo;
    float v = 0.0f;
    if (gk < 24 && go < 37) {
      const int src = go * 24 + gk;
      v = x[src] * ((dropout_bits((params[0] ^ 0x4f8d29eu), ((unsigned int)(src))) >= 1677722u) ? (1.1111111640930176f) : (0.0f));
    }
    As[kk * 64 + oo] = v;
  }
  {
    const int kk = ((lin + 256) % 16); const int oo = ((lin + 256) / 16);
    const int gk = k0_0 + kk; const int go = row0 + oo;
    float v = 0.0f;
    if (gk < 24 && go < 37) {
      const int src = go * 24 + gk;
      v = x[src] * ((dropout_bits((params[0] ^ 0x4f8d29eu), ((unsigned int)(src))) >= 1677722u) ? (1.1111111640930176f) : (0.0f));
    }
    As[kk * 64 + oo] = v;
  }
  {
    const int kk = ((lin + 512) % 16); const int oo = ((lin + 512) / 16);
    const int gk = k0_0 + kk; const int go = row0 + oo;
    float v = 0.0f;
    if (gk < 24 && go < 37) {
      const int src = go * 24 + gk;
      v = x[src] * ((dropout_bits((params[0] ^ 0x4f8d29eu), ((unsigned int)(src))) >= 1677722u) ? (1.1111111640930176f) : (0.0f));
    }
    As[kk * 64 + oo] = v;
  }
  {
    const int kk = ((lin + 768) % 16); const int oo = ((lin + 768) / 16);
    const int gk = k0_0 + kk; const int go = row0 + oo;
    float v = 0.0f;
    if (gk < 24 && go < 37) {
      const int src = go * 24 + gk;
      v = x[src] * ((dropout_bits((params[0] ^ 0x4f8d29eu), ((unsigned int)(src))) >= 1677722u) ? (1.1111111640930176f) : (0.0f));
    }
    As[kk * 64 + oo] = v;
  }
  {
    const int kk = ((lin + 0) % 16); const int oo = ((lin + 0) / 16);
    const int gk = k0_0 + kk; const int go = col0 + oo;
    float v = 0.0f;
    if (gk < 24 && go < 4) {
      const int src = go * 24 + gk;
      v = lora_a[src];
    }
    Bs[kk * 16 + oo] = v;
  }
    __syncthreads();
    for (int kk = 0; kk < 16; kk += 1) {
      ra[0] = As[kk * 64 + ty + 0];
      ra[1] = As[kk * 64 + ty + 16];
      ra[2] = As[kk * 64 + ty + 32];
      ra[3] = As[kk * 64 + ty + 48];
      rb[0] = Bs[kk * 16 + tx + 0];
      acc[0] += ra[0] * rb[0];
      acc[1] += ra[1] * rb[0];
      acc[2] += ra[2] * rb[0];
      acc[3] += ra[3] * rb[0];
    }
    __syncthreads();
  }
  // epilogue
  {
    const int row = row0 + ty + 0; const int col = col0 + tx + 0;
    if (row < 37 && col < 4) {
      float v = 2.0f * acc[0];
      s[row * 4 + col] = v;
    }
  }
  {
    const int row = row0 + ty + 16; const int col = col0 + tx + 0;
    if (row < 37 && col < 4) {
      float v = 2.0f * acc[1];
      s[row * 4 + col] = v;
    }
  }
  {
    const int row = row0 + ty + 32; const int col = col0 + tx + 0;
    if (row < 37 && col < 4) {
      float v = 2.0f * acc[2];
      s[row * 4 + col] = v;
    }
  }
  {
    const int row = row0 + ty + 48; const int col = col0 + tx + 0;
    if (row < 37 && col < 4) {
      float v = 2.0f * acc[3];
      s[row * 4 + col] = v;
    }
  }
}

extern "C" __global__ void __launch_bounds__(256) lora_expand(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ lora_a, const float* __restrict__ lora_b, const float* __restrict__ bias, const float* __restrict__ residual, const unsigned int* __restrict__ params, float* __restrict__ y, float* __restrict__ s) {
  __shared__ float As[1024];
  __shared__ float Bs[512];
  const int tx = threadIdx.x; const int ty = threadIdx.y; const int bx = blockIdx.x; const int by = blockIdx.y; const int bz = blockIdx.z; const int gx = gridDim.x;
  (void)tx; (void)ty; (void)bx; (void)by; (void)bz; (void)gx;
  const int lin = ty * 16 + tx;
  const int row0 = by * 64;
  const int col0 = bx * 32;
  float acc[8] = {};
  float ra[4] = {};
  float rb[2] = {};
  // segment 0: x · wᵀ over K = 24
  for (int k0_0 = 0; k0_0 < 24; k0_0 += 16) {
  {
    const int kk = ((lin + 0) % 16); const int oo = ((lin + 0) / 16);
    const int gk = k0_0 + kk; const int go = row0 + oo;
    float v = 0.0f;
    if (gk < 24 && go < 37) {
      const int src = go * 24 + gk;
      v = x[src];
    }
    As[kk * 64 + oo] = v;
  }
  {
    const int kk = ((lin + 256) % 16); const int oo = ((lin + 256) / 16);
    const int gk = k0_0 + kk; const int go = row0 + oo;
    float v = 0.0f;
    if (gk < 24 && go < 37) {
      const int src = go * 24 + gk;
      v = x[src];
    }
    As[kk * 64 + oo] = v;
  }
  {
    const int kk = ((lin + 512) % 16); const int oo = ((lin + 512) / 16);
    const int gk = k0_0 + kk; const int go = row0 + oo;
    float v = 0.0f;
    if (gk < 24 && go < 37) {
      const int src = go * 24 + gk;
      v = x[src];
    }
    As[kk * 64 + oo] = v;
  }
  {
    const int kk = ((lin + 768) % 16); const int oo = ((lin + 768) / 16);
    const int gk = k0_0 + kk; const int go = row0 + oo;
    float v = 0.0f;
    if (gk < 24 && go < 37) {
      const int src = go * 24 + gk;
      v = x[src];
    }
    As[kk * 64 + oo] = v;
  }
  {
    const int kk = ((lin + 0) % 16); const int oo = ((lin + 0) / 16);
    const int gk = k0_0 + kk; const int go = col0 + oo;
    float v = 0.0f;
    if (gk < 24 && go < 20) {
      const int src = go * 24 + gk;
      v = w[src];
    }
    Bs[kk * 32 + oo] = v;
  }
  {
    const int kk = ((lin + 256) % 16); const int oo = ((lin + 256) / 16);
    const int gk = k0_0 + kk; const int go = col0 + oo;
    float v = 0.0f;
    if (gk < 24 && go < 20) {
      const int src = go * 24 + gk;
      v = w[src];
    }
    Bs[kk * 32 + oo] = v;
  }
    __syncthreads();
    for (int kk = 0; kk < 16; kk += 1) {
      ra[0] = As[kk * 64 + ty + 0];
      ra[1] = As[kk * 64 + ty + 16];
      ra[2] = As[kk * 64 + ty + 32];
      ra[3] = As[kk * 64 + ty + 48];
      rb[0] = Bs[kk * 32 + tx + 0];
      rb[1] = Bs[kk * 32 + tx + 16];
      acc[0] += ra[0] * rb[0]; acc[1] += ra[0] * rb[1];
      acc[2] += ra[1] * rb[0]; acc[3] += ra[1] * rb[1];
      acc[4] += ra[2] * rb[0]; acc[5] += ra[2] * rb[1];
      acc[6] += ra[3] * rb[0]; acc[7] += ra[3] * rb[1];
    }
    __syncthreads();
  }
  // segment 1: s · lora_bᵀ over K = 4
  for (int k0_1 = 0; k0_1 < 4; k0_1 += 16) {
  {
    const int kk = ((lin + 0) % 16); const int oo = ((lin + 0) / 16);
    const int gk = k0_1 + kk; const int go = row0 + oo;
    float v = 0.0f;
    if (gk < 4 && go < 37) {
      const int src = go * 4 + gk;
      v = s[src];
    }
    As[kk * 64 + oo] = v;
  }
  {
    const int kk = ((lin + 256) % 16); const int oo = ((lin + 256) / 16);
    const int gk = k0_1 + kk; const int go = row0 + oo;
    float v = 0.0f;
    if (gk < 4 && go < 37) {
      const int src = go * 4 + gk;
      v = s[src];
    }
    As[kk * 64 + oo] = v;
  }
  {
    const int kk = ((lin + 512) % 16); const int oo = ((lin + 512) / 16);
    const int gk = k0_1 + kk; const int go = row0 + oo;
    float v = 0.0f;
    if (gk < 4 && go < 37) {
      const int src = go * 4 + gk;
      v = s[src];
    }
    As[kk * 64 + oo] = v;
  }
  {
    const int kk = ((lin + 768) % 16); const int oo = ((lin + 768) / 16);
    const int gk = k0_1 + kk; const int go = row0 + oo;
    float v = 0.0f;
    if (gk < 4 && go < 37) {
      const int src = go * 4 + gk;
      v = s[src];
    }
    As[kk * 64 + oo] = v;
  }
  {
    const int kk = ((lin + 0) % 16); const int oo = ((lin + 0) / 16);
    const int gk = k0_1 + kk; const int go = col0 + oo;
    float v = 0.0f;
    if (gk < 4 && go < 20) {
      const int src = go * 4 + gk;
      v = lora_b[src];
    }
    Bs[kk * 32 + oo] = v;
  }
  {
    const int kk = ((lin + 256) % 16); const int oo = ((lin + 256) / 16);
    const int gk = k0_1 + kk; const int go = col0 + oo;
    float v = 0.0f;
    if (gk < 4 && go < 20) {
      const int src = go * 4 + gk;
      v = lora_b[src];
    }
    Bs[kk * 32 + oo] = v;
  }
    __syncthreads();
    for (int kk = 0; kk < 16; kk += 1) {
      ra[0] = As[kk * 64 + ty + 0];
      ra[1] = As[kk * 64 + ty + 16];
      ra[2] = As[kk * 64 + ty + 32];
      ra[3] = As[kk * 64 + ty + 48];
      rb[0] = Bs[kk * 32 + tx + 0];
      rb[1] = Bs[kk * 32 + tx + 16];
      acc[0] += ra[0] * rb[0]; acc[1] += ra[0] * rb[1];
      acc[2] += ra[1] * rb[0]; acc[3] += ra[1] * rb[1];
      acc[4] += ra[2] * rb[0]; acc[5] += ra[2] * rb[1];
      acc[6] += ra[3] * rb[0]; acc[7] += ra[3] * rb[1];
    }
    __syncthreads();
  }
  // epilogue
  {
    const int row = row0 + ty + 0; const int col = col0 + tx + 0;
    if (row < 37 && col < 20) {
      float v = acc[0];
      v += bias[col];
      v += residual[row * 20 + col];
      y[row * 20 + col] = v;
    }
  }
  {
    const int row = row0 + ty + 0; const int col = col0 + tx + 16;
    if (row < 37 && col < 20) {
      float v = acc[1];
      v += bias[col];
      v += residual[row * 20 + col];
      y[row * 20 + col] = v;
    }
  }
  {
    const int row = row0 + ty + 16; const int col = col0 + tx + 0;
    if (row < 37 && col < 20) {
      float v = acc[2];
      v += bias[col];
      v += residual[row * 20 + col];
      y[row * 20 + col] = v;
    }
  }
  {
    const int row = row0 + ty + 16; const int col = col0 + tx + 16;
    if (row < 37 && col < 20) {
      float v = acc[3];
      v += bias[col];
      v += residual[row * 20 + col];
      y[row * 20 + col] = v;
    }
  }
  {
    const int row = row0 + ty + 32; const int col = col0 + tx + 0;
    if (row < 37 && col < 20) {
      float v = acc[4];
      v += bias[col];
      v += residual[row * 20 + col];
      y[row * 20 + col] = v;
    }
  }
  {
    const int row = row0 + ty + 32; const int col = col0 + tx + 16;
    if (row < 37 && col < 20) {
      float v = acc[5];
      v += bias[col];
      v += residual[row * 20 + col];
      y[row * 20 + col] = v;
    }
  }
  {
    const int row = row0 + ty + 48; const int col = col0 + tx + 0;
    if (row < 37 && col < 20) {
      float v = acc[6];
      v += bias[col];
      v += residual[row * 20 + col];
      y[row * 20 + col] = v;
    }
  }
  {
    const int row = row0 + ty + 48; const int col = col0 + tx + 16;
    if (row < 37 && col < 20) {
      float v = acc[7];
      v += bias[col];
      v += residual[row * 20 + col];
      y[row * 20 + col] = v;
    }
  }
}
