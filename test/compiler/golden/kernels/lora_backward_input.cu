// medctc kernel lora_backward_input_dropout0p1_k24_m13_n20_r4_stream1 (CUDA), generated: do not edit.
//   dx[13,24] = dy·W + dropout_mask(p=0.1, stream 1)⊙(ds·A)
// bindings: dy[260] f32, w[480] f32, ds[52] f32, lora_a[96] f32, params[4] u32, dx[312] f32 (out)

__device__ unsigned int dropout_bits(unsigned int seed, unsigned int idx) {
  unsigned int h = ((idx * 0x9E3779B9u) ^ seed);
  h = h ^ (h >> 16u);
  h = h * 0x7feb352du;
  h = h ^ (h >> 15u);
  h = h * 0x846ca68bu;
  h = h ^ (h >> 16u);
  return h >> 8u;
}

extern "C" __global__ void __launch_bounds__(256) lora_backward_input(const float* __restrict__ dy, const float* __restrict__ w, const float* __restrict__ ds, const float* __restrict__ lora_a, const unsigned int* __restrict__ params, float* __restrict__ dx) {
  __shared__ float As[256];
  __shared__ float Bs[512];
  const int tx = threadIdx.x; const int ty = threadIdx.y; const int bx = blockIdx.x; const int by = blockIdx.y; const int bz = blockIdx.z; const int gx = gridDim.x;
  (void)tx; (void)ty; (void)bx; (void)by; (void)bz; (void)gx;
  const int lin = ty * 16 + tx;
  const int row0 = by * 16;
  const int col0 = bx * 32;
  float acc[2] = {};
  float ra[1] = {};
  float rb[2] = {};
  float acc2[2] = {};
  // segment 0: dy · w over K = 20
  for (int k0_0 = 0; k0_0 < 20; k0_0 += 16) {
  {
    const int kk = ((lin + 0) % 16); const int oo = ((lin + 0) / 16);
    const int gk = k0_0 + kk; const int go = row0 + oo;
    float v = 0.0f;
    if (gk < 20 && go < 13) {
      const int src = go * 20 + gk;
      v = dy[src];
    }
    As[kk * 16 + oo] = v;
  }
  {
    const int kk = ((lin + 0) / 32); const int oo = ((lin + 0) % 32);
    const int gk = k0_0 + kk; const int go = col0 + oo;
    float v = 0.0f;
    if (gk < 20 && go < 24) {
      const int src = gk * 24 + go;
      v = w[src];
    }
    Bs[kk * 32 + oo] = v;
  }
  {
    const int kk = ((lin + 256) / 32); const int oo = ((lin + 256) % 32);
    const int gk = k0_0 + kk; const int go = col0 + oo;
    float v = 0.0f;
    if (gk < 20 && go < 24) {
      const int src = gk * 24 + go;
      v = w[src];
    }
    Bs[kk * 32 + oo] = v;
  }
    __syncthreads();
    for (int kk = 0; kk < 16; kk += 1) {
      ra[0] = As[kk * 16 + ty + 0];
      rb[0] = Bs[kk * 32 + tx + 0];
      rb[1] = Bs[kk * 32 + tx + 16];
      acc[0] += ra[0] * rb[0]; acc[1] += ra[0] * rb[1];
    }
    __syncthreads();
  }
  // segment 1: ds · lora_a over K = 4
  for (int k0_1 = 0; k0_1 < 4; k0_1 += 16) {
  {
    const int kk = ((lin + 0) % 16); const int oo = ((lin + 0) / 16);
    const int gk = k0_1 + kk; const int go = row0 + oo;
    float v = 0.0f;
    if (gk < 4 && go < 13) {
      const int src = go * 4 + gk;
      v = ds[src];
    }
    As[kk * 16 + oo] = v;
  }
  {
    const int kk = ((lin + 0) / 32); const int oo = ((lin + 0) % 32);
    const int gk = k0_1 + kk; const int go = col0 + oo;
    float v = 0.0f;
    if (gk < 4 && go < 24) {
      const int src = gk * 24 + go;
      v = lora_a[src];
    }
    Bs[kk * 32 + oo] = v;
  }
  {
    const int kk = ((lin + 256) / 32); const int oo = ((lin + 256) % 32);
    const int gk = k0_1 + kk; const int go = col0 + oo;
    float v = 0.0f;
    if (gk < 4 && go < 24) {
      const int src = gk * 24 + go;
      v = lora_a[src];
    }
    Bs[kk * 32 + oo] = v;
  }
    __syncthreads();
    for (int kk = 0; kk < 16; kk += 1) {
      ra[0] = As[kk * 16 + ty + 0];
      rb[0] = Bs[kk * 32 + tx + 0];
      rb[1] = Bs[kk * 32 + tx + 16];
      acc2[0] += ra[0] * rb[0]; acc2[1] += ra[0] * rb[1];
    }
    __syncthreads();
  }
  // epilogue
  {
    const int row = row0 + ty + 0; const int col = col0 + tx + 0;
    if (row < 13 && col < 24) {
      float v = acc[0];
      v += acc2[0] * ((dropout_bits((params[0] ^ 0x4f8d29eu), ((unsigned int)(row * 24 + col))) >= 1677722u) ? (1.1111111640930176f) : (0.0f));
      dx[row * 24 + col] = v;
    }
  }
  {
    const int row = row0 + ty + 0; const int col = col0 + tx + 16;
    if (row < 13 && col < 24) {
      float v = acc[1];
      v += acc2[1] * ((dropout_bits((params[0] ^ 0x4f8d29eu), ((unsigned int)(row * 24 + col))) >= 1677722u) ? (1.1111111640930176f) : (0.0f));
      dx[row * 24 + col] = v;
    }
  }
}
