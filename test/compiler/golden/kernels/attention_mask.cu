// medctc kernel attention_batch2_bias_dh8_heads2_mask_nk7_nq9_scale0p35 (CUDA), generated: do not edit.
//   attention (online softmax): q [2,9,2,8], k/v [2,7,2,8], logits·0.35 + bias[h,nq,nk], key padding mask
// bindings: q[288] f32, k[224] f32, v[224] f32, bias[126] f32, mask[14] i32, o[288] f32 (out), lse[36] f32 (out)

extern "C" __global__ void __launch_bounds__(64) attention(const float* __restrict__ q, const float* __restrict__ k, const float* __restrict__ v, const float* __restrict__ bias, const int* __restrict__ mask, float* __restrict__ o, float* __restrict__ lse) {
  const int tx = threadIdx.x; const int ty = threadIdx.y; const int bx = blockIdx.x; const int by = blockIdx.y; const int bz = blockIdx.z; const int gx = gridDim.x;
  (void)tx; (void)ty; (void)bx; (void)by; (void)bz; (void)gx;
  const int flat = ((by * gx + bx) * 64 + tx);
  if (flat < 36) {
    const int qi = flat % 9; const int hh = (flat / 9) % 2; const int bb = flat / 18;
    const int qb = ((bb * 9 + qi) * 2 + hh) * 8;
    float qv[8] = {};
    float acc[8] = {};
    for (int d = 0; d < 8; d += 1) { qv[d] = q[qb + d]; }
    float mx = (-3.0000000054977558e+38f); float l = 0.0f;
    for (int kj = 0; kj < 7; kj += 1) {
      if (mask[bb * 7 + kj] != 0) {
        const int kb = ((bb * 7 + kj) * 2 + hh) * 8;
        float sc = 0.0f;
        for (int d = 0; d < 8; d += 1) { sc += qv[d] * k[kb + d]; }
        sc = sc * 0.3499999940395355f + bias[(hh * 9 + qi) * 7 + kj];
        const float mnew = fmaxf(mx, sc);
        const float corr = expf(mx - mnew); const float p = expf(sc - mnew);
        l = l * corr + p;
        for (int d = 0; d < 8; d += 1) { acc[d] = acc[d] * corr + p * v[kb + d]; }
        mx = mnew;
      }
    }
    const float inv = ((l > 0.0f) ? (1.0f / l) : (0.0f));
    for (int d = 0; d < 8; d += 1) { o[qb + d] = acc[d] * inv; }
    lse[(bb * 2 + hh) * 9 + qi] = ((l > 0.0f) ? (mx + logf(l)) : (0.0f));
  }
}
