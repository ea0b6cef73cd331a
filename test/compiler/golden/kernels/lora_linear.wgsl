// medctc kernel lora_linear_bias_dropout0p1_k24_m37_n20_r4_residual_scaling2_stream1 (WGSL), generated: do not edit.
//   stage 1 lora_shrink: s[37,4] = 2·dropout(x[37,24], p=0.1, stream 1)·Aᵀ
//   stage 2 lora_expand: y[37,20] = x·Wᵀ + s·Bᵀ + bias, + residual (one GEMM over K = 24 + 4)
// bindings: x[888] f32, w[480] f32, lora_a[96] f32, lora_b[80] f32, bias[20] f32, residual[740] f32, params[4] u32, y[740] f32 (out), s[148] f32 (out)

fn dropout_bits(seed: u32, idx: u32) -> u32 {
  var h: u32 = ((idx * 0x9E3779B9u) ^ seed);
  h = h ^ (h >> 16u);
  h = h * 0x7feb352du;
  h = h ^ (h >> 15u);
  h = h * 0x846ca68bu;
  h = h ^ (h >> 16u);
  return h >> 8u;
}

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> lora_a: array<f32>;
@group(0) @binding(3) var<storage, read_write> lora_b: array<f32>;
@group(0) @binding(4) var<storage, read_write> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> residual: array<f32>;
@group(0) @binding(6) var<storage, read_write> params: array<u32>;
@group(0) @binding(7) var<storage, read_write> y: array<f32>;
@group(0) @binding(8) var<storage, read_write> s: array<f32>;
var<workgroup> As: array<f32, 1024>;
var<workgroup> Bs: array<f32, 512>;

@compute @workgroup_size(16, 16, 1)
fn lora_shrink(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let tx = i32(lid.x); let ty = i32(lid.y); let bx = i32(wid.x); let by = i32(wid.y); let bz = i32(wid.z); let gx = i32(nwg.x);
  let lin: i32 = ty * 16 + tx;
  let row0: i32 = by * 64;
  let col0: i32 = bx * 16;
  var acc: array<f32, 4>;
  var ra: array<f32, 4>;
  var rb: array<f32, 1>;
  // segment 0: x · lora_aᵀ over K = 24
  for (var k0_0: i32 = 0; k0_0 < 24; k0_0 += 16) {
  {
    let kk: i32 = ((lin + 0) % 16); let oo: i32 = ((lin + 0) / 16);
    let gk: i32 = k0_0 + kk; let go: i32 = row0 + oo;
    var v: f32 = 0.0;
    if (gk < 24 && go < 37) {
      let src: i32 = go * 24 + gk;
      v = x[src] * select(0.0, 1.1111111640930176, dropout_bits((params[0] ^ 0x4f8d29eu), u32(src)) >= 1677722u);
    }
    As[kk * 64 + oo] = v;
  }
  {
    let kk: i32 = ((lin + 256) % 16); let oo: i32 = ((lin + 256) / 16);
    let gk: i32 = k0_0 + kk; let go: i32 = row0 + oo;
    var v: f32 = 0.0;
    if (gk < 24 && go < 37) {
      let src: i32 = go * 24 + gk;
      v = x[src] * select(0.0, 1.1111111640930176, dropout_bits((params[0] ^ 0x4f8d29eu), u32(src)) >= 1677722u);
    }
    As[kk * 64 + oo] = v;
  }
  {
    let kk: i32 = ((lin + 512) % 16); let oo: i32 = ((lin + 512) / 16);
    let gk: i32 = k0_0 + kk; let go: i32 = row0 + oo;
    var v: f32 = 0.0;
    if (gk < 24 && go < 37) {
      let src: i32 = go * 24 + gk;
      v = x[src] * select(0.0, 1.1111111640930176, dropout_bits((params[0] ^ 0x4f8d29eu), u32(src)) >= 1677722u);
    }
    As[kk * 64 + oo] = v;
  }
  {
    let kk: i32 = ((lin + 768) % 16); let oo: i32 = ((lin + 768) / 16);
    let gk: i32 = k0_0 + kk; let go: i32 = row0 + oo;
    var v: f32 = 0.0;
    if (gk < 24 && go < 37) {
      let src: i32 = go * 24 + gk;
      v = x[src] * select(0.0, 1.1111111640930176, dropout_bits((params[0] ^ 0x4f8d29eu), u32(src)) >= 1677722u);
    }
    As[kk * 64 + oo] = v;
  }
  {
    let kk: i32 = ((lin + 0) % 16); let oo: i32 = ((lin + 0) / 16);
    let gk: i32 = k0_0 + kk; let go: i32 = col0 + oo;
    var v: f32 = 0.0;
    if (gk < 24 && go < 4) {
      let src: i32 = go * 24 + gk;
      v = lora_a[src];
    }
    Bs[kk * 16 + oo] = v;
  }
    workgroupBarrier();
    for (var kk: i32 = 0; kk < 16; kk += 1) {
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
    workgroupBarrier();
  }
  // epilogue
  {
    let row: i32 = row0 + ty + 0; let col: i32 = col0 + tx + 0;
    if (row < 37 && col < 4) {
      var v: f32 = 2.0 * acc[0];
      s[row * 4 + col] = v;
    }
  }
  {
    let row: i32 = row0 + ty + 16; let col: i32 = col0 + tx + 0;
    if (row < 37 && col < 4) {
      var v: f32 = 2.0 * acc[1];
      s[row * 4 + col] = v;
    }
  }
  {
    let row: i32 = row0 + ty + 32; let col: i32 = col0 + tx + 0;
    if (row < 37 && col < 4) {
      var v: f32 = 2.0 * acc[2];
      s[row * 4 + col] = v;
    }
  }
  {
    let row: i32 = row0 + ty + 48; let col: i32 = col0 + tx + 0;
    if (row < 37 && col < 4) {
      var v: f32 = 2.0 * acc[3];
      s[row * 4 + col] = v;
    }
  }
}


@compute @workgroup_size(16, 16, 1)
fn lora_expand(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let tx = i32(lid.x); let ty = i32(lid.y); let bx = i32(wid.x); let by = i32(wid.y); let bz = i32(wid.z); let gx = i32(nwg.x);
  let lin: i32 = ty * 16 + tx;
  let row0: i32 = by * 64;
  let col0: i32 = bx * 32;
  var acc: array<f32, 8>;
  var ra: array<f32, 4>;
  var rb: array<f32, 2>;
  // segment 0: x · wᵀ over K = 24
  for (var k0_0: i32 = 0; k0_0 < 24; k0_0 += 16) {
  {
    let kk: i32 = ((lin + 0) % 16); let oo: i32 = ((lin + 0) / 16);
    let gk: i32 = k0_0 + kk; let go: i32 = row0 + oo;
    var v: f32 = 0.0;
    if (gk < 24 && go < 37) {
      let src: i32 = go * 24 + gk;
      v = x[src];
    }
    As[kk * 64 + oo] = v;
  }
  {
    let kk: i32 = ((lin + 256) % 16); let oo: i32 = ((lin + 256) / 16);
    let gk: i32 = k0_0 + kk; let go: i32 = row0 + oo;
    var v: f32 = 0.0;
    if (gk < 24 && go < 37) {
      let src: i32 = go * 24 + gk;
      v = x[src];
    }
    As[kk * 64 + oo] = v;
  }
  {
    let kk: i32 = ((lin + 512) % 16); let oo: i32 = ((lin + 512) / 16);
    let gk: i32 = k0_0 + kk; let go: i32 = row0 + oo;
    var v: f32 = 0.0;
    if (gk < 24 && go < 37) {
      let src: i32 = go * 24 + gk;
      v = x[src];
    }
    As[kk * 64 + oo] = v;
  }
  {
    let kk: i32 = ((lin + 768) % 16); let oo: i32 = ((lin + 768) / 16);
    let gk: i32 = k0_0 + kk; let go: i32 = row0 + oo;
    var v: f32 = 0.0;
    if (gk < 24 && go < 37) {
      let src: i32 = go * 24 + gk;
      v = x[src];
    }
    As[kk * 64 + oo] = v;
  }
  {
    let kk: i32 = ((lin + 0) % 16); let oo: i32 = ((lin + 0) / 16);
    let gk: i32 = k0_0 + kk; let go: i32 = col0 + oo;
    var v: f32 = 0.0;
    if (gk < 24 && go < 20) {
      let src: i32 = go * 24 + gk;
      v = w[src];
    }
    Bs[kk * 32 + oo] = v;
  }
  {
    let kk: i32 = ((lin + 256) % 16); let oo: i32 = ((lin + 256) / 16);
    let gk: i32 = k0_0 + kk; let go: i32 = col0 + oo;
    var v: f32 = 0.0;
    if (gk < 24 && go < 20) {
      let src: i32 = go * 24 + gk;
      v = w[src];
    }
    Bs[kk * 32 + oo] = v;
  }
    workgroupBarrier();
    for (var kk: i32 = 0; kk < 16; kk += 1) {
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
    workgroupBarrier();
  }
  // segment 1: s · lora_bᵀ over K = 4
  for (var k0_1: i32 = 0; k0_1 < 4; k0_1 += 16) {
  {
    let kk: i32 = ((lin + 0) % 16); let oo: i32 = ((lin + 0) / 16);
    let gk: i32 = k0_1 + kk; let go: i32 = row0 + oo;
    var v: f32 = 0.0;
    if (gk < 4 && go < 37) {
      let src: i32 = go * 4 + gk;
      v = s[src];
    }
    As[kk * 64 + oo] = v;
  }
  {
    let kk: i32 = ((lin + 256) % 16); let oo: i32 = ((lin + 256) / 16);
    let gk: i32 = k0_1 + kk; let go: i32 = row0 + oo;
    var v: f32 = 0.0;
    if (gk < 4 && go < 37) {
      let src: i32 = go * 4 + gk;
      v = s[src];
    }
    As[kk * 64 + oo] = v;
  }
  {
    let kk: i32 = ((lin + 512) % 16); let oo: i32 = ((lin + 512) / 16);
    let gk: i32 = k0_1 + kk; let go: i32 = row0 + oo;
    var v: f32 = 0.0;
    if (gk < 4 && go < 37) {
      let src: i32 = go * 4 + gk;
      v = s[src];
    }
    As[kk * 64 + oo] = v;
  }
  {
    let kk: i32 = ((lin + 768) % 16); let oo: i32 = ((lin + 768) / 16);
    let gk: i32 = k0_1 + kk; let go: i32 = row0 + oo;
    var v: f32 = 0.0;
    if (gk < 4 && go < 37) {
      let src: i32 = go * 4 + gk;
      v = s[src];
    }
    As[kk * 64 + oo] = v;
  }
  {
    let kk: i32 = ((lin + 0) % 16); let oo: i32 = ((lin + 0) / 16);
    let gk: i32 = k0_1 + kk; let go: i32 = col0 + oo;
    var v: f32 = 0.0;
    if (gk < 4 && go < 20) {
      let src: i32 = go * 4 + gk;
      v = lora_b[src];
    }
    Bs[kk * 32 + oo] = v;
  }
  {
    let kk: i32 = ((lin + 256) % 16); let oo: i32 = ((lin + 256) / 16);
    let gk: i32 = k0_1 + kk; let go: i32 = col0 + oo;
    var v: f32 = 0.0;
    if (gk < 4 && go < 20) {
      let src: i32 = go * 4 + gk;
      v = lora_b[src];
    }
    Bs[kk * 32 + oo] = v;
  }
    workgroupBarrier();
    for (var kk: i32 = 0; kk < 16; kk += 1) {
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
    workgroupBarrier();
  }
  // epilogue
  {
    let row: i32 = row0 + ty + 0; let col: i32 = col0 + tx + 0;
    if (row < 37 && col < 20) {
      var v: f32 = acc[0];
      v += bias[col];
      v += residual[row * 20 + col];
      y[row * 20 + col] = v;
    }
  }
  {
    let row: i32 = row0 + ty + 0; let col: i32 = col0 + tx + 16;
    if (row < 37 && col < 20) {
      var v: f32 = acc[1];
      v += bias[col];
      v += residual[row * 20 + col];
      y[row * 20 + col] = v;
    }
  }
  {
    let row: i32 = row0 + ty + 16; let col: i32 = col0 + tx + 0;
    if (row < 37 && col < 20) {
      var v: f32 = acc[2];
      v += bias[col];
      v += residual[row * 20 + col];
      y[row * 20 + col] = v;
    }
  }
  {
    let row: i32 = row0 + ty + 16; let col: i32 = col0 + tx + 16;
    if (row < 37 && col < 20) {
      var v: f32 = acc[3];
      v += bias[col];
      v += residual[row * 20 + col];
      y[row * 20 + col] = v;
    }
  }
  {
    let row: i32 = row0 + ty + 32; let col: i32 = col0 + tx + 0;
    if (row < 37 && col < 20) {
      var v: f32 = acc[4];
      v += bias[col];
      v += residual[row * 20 + col];
      y[row * 20 + col] = v;
    }
  }
  {
    let row: i32 = row0 + ty + 32; let col: i32 = col0 + tx + 16;
    if (row < 37 && col < 20) {
      var v: f32 = acc[5];
      v += bias[col];
      v += residual[row * 20 + col];
      y[row * 20 + col] = v;
    }
  }
  {
    let row: i32 = row0 + ty + 48; let col: i32 = col0 + tx + 0;
    if (row < 37 && col < 20) {
      var v: f32 = acc[6];
      v += bias[col];
      v += residual[row * 20 + col];
      y[row * 20 + col] = v;
    }
  }
  {
    let row: i32 = row0 + ty + 48; let col: i32 = col0 + tx + 16;
    if (row < 37 && col < 20) {
      var v: f32 = acc[7];
      v += bias[col];
      v += residual[row * 20 + col];
      y[row * 20 + col] = v;
    }
  }
}
