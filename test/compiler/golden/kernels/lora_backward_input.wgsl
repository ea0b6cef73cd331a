// medctc kernel lora_backward_input_dropout0p1_k24_m13_n20_r4_stream1 (WGSL), generated: do not edit.
//   dx[13,24] = dy·W + dropout_mask(p=0.1, stream 1)⊙(ds·A)
// bindings: dy[260] f32, w[480] f32, ds[52] f32, lora_a[96] f32, params[4] u32, dx[312] f32 (out)

fn dropout_bits(seed: u32, idx: u32) -> u32 {
  var h: u32 = ((idx * 0x9E3779B9u) ^ seed);
  h = h ^ (h >> 16u);
  h = h * 0x7feb352du;
  h = h ^ (h >> 15u);
  h = h * 0x846ca68bu;
  h = h ^ (h >> 16u);
  return h >> 8u;
}

@group(0) @binding(0) var<storage, read_write> dy: array<f32>;
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> ds: array<f32>;
@group(0) @binding(3) var<storage, read_write> lora_a: array<f32>;
@group(0) @binding(4) var<storage, read_write> params: array<u32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
var<workgroup> As: array<f32, 256>;
var<workgroup> Bs: array<f32, 512>;

@compute @workgroup_size(16, 16, 1)
fn lora_backward_input(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let tx = i32(lid.x); let ty = i32(lid.y); let bx = i32(wid.x); let by = i32(wid.y); let bz = i32(wid.z); let gx = i32(nwg.x);
  let lin: i32 = ty * 16 + tx;
  let row0: i32 = by * 16;
  let col0: i32 = bx * 32;
  var acc: array<f32, 2>;
  var ra: array<f32, 1>;
  var rb: array<f32, 2>;
  var acc2: array<f32, 2>;
  // segment 0: dy · w over K = 20
  for (var k0_0: i32 = 0; k0_0 < 20; k0_0 += 16) {
  {
    let kk: i32 = ((lin + 0) % 16); let oo: i32 = ((lin + 0) / 16);
    let gk: i32 = k0_0 + kk; let go: i32 = row0 + oo;
    var v: f32 = 0.0;
    if (gk < 20 && go < 13) {
      let src: i32 = go * 20 + gk;
      v = dy[src];
    }
    As[kk * 16 + oo] = v;
  }
  {
    let kk: i32 = ((lin + 0) / 32); let oo: i32 = ((lin + 0) % 32);
    let gk: i32 = k0_0 + kk; let go: i32 = col0 + oo;
    var v: f32 = 0.0;
    if (gk < 20 && go < 24) {
      let src: i32 = gk * 24 + go;
      v = w[src];
    }
    Bs[kk * 32 + oo] = v;
  }
  {
    let kk: i32 = ((lin + 256) / 32); let oo: i32 = ((lin + 256) % 32);
    let gk: i32 = k0_0 + kk; let go: i32 = col0 + oo;
    var v: f32 = 0.0;
    if (gk < 20 && go < 24) {
      let src: i32 = gk * 24 + go;
      v = w[src];
    }
    Bs[kk * 32 + oo] = v;
  }
    workgroupBarrier();
    for (var kk: i32 = 0; kk < 16; kk += 1) {
      ra[0] = As[kk * 16 + ty + 0];
      rb[0] = Bs[kk * 32 + tx + 0];
      rb[1] = Bs[kk * 32 + tx + 16];
      acc[0] += ra[0] * rb[0]; acc[1] += ra[0] * rb[1];
    }
    workgroupBarrier();
  }
  // segment 1: ds · lora_a over K = 4
  for (var k0_1: i32 = 0; k0_1 < 4; k0_1 += 16) {
  {
    let kk: i32 = ((lin + 0) % 16); let oo: i32 = ((lin + 0) / 16);
    let gk: i32 = k0_1 + kk; let go: i32 = row0 + oo;
    var v: f32 = 0.0;
    if (gk < 4 && go < 13) {
      let src: i32 = go * 4 + gk;
      v = ds[src];
    }
    As[kk * 16 + oo] = v;
  }
  {
    let kk: i32 = ((lin + 0) / 32); let oo: i32 = ((lin + 0) % 32);
    let gk: i32 = k0_1 + kk; let go: i32 = col0 + oo;
    var v: f32 = 0.0;
    if (gk < 4 && go < 24) {
      let src: i32 = gk * 24 + go;
      v = lora_a[src];
    }
    Bs[kk * 32 + oo] = v;
  }
  {
    let kk: i32 = ((lin + 256) / 32); let oo: i32 = ((lin + 256) % 32);
    let gk: i32 = k0_1 + kk; let go: i32 = col0 + oo;
    var v: f32 = 0.0;
    if (gk < 4 && go < 24) {
      let src: i32 = gk * 24 + go;
      v = lora_a[src];
    }
    Bs[kk * 32 + oo] = v;
  }
    workgroupBarrier();
    for (var kk: i32 = 0; kk < 16; kk += 1) {
      ra[0] = As[kk * 16 + ty + 0];
      rb[0] = Bs[kk * 32 + tx + 0];
      rb[1] = Bs[kk * 32 + tx + 16];
      acc2[0] += ra[0] * rb[0]; acc2[1] += ra[0] * rb[1];
    }
    workgroupBarrier();
  }
  // epilogue
  {
    let row: i32 = row0 + ty + 0; let col: i32 = col0 + tx + 0;
    if (row < 13 && col < 24) {
      var v: f32 = acc[0];
      v += acc2[0] * select(0.0, 1.1111111640930176, dropout_bits((params[0] ^ 0x4f8d29eu), u32(row * 24 + col)) >= 1677722u);
      dx[row * 24 + col] = v;
    }
  }
  {
    let row: i32 = row0 + ty + 0; let col: i32 = col0 + tx + 16;
    if (row < 13 && col < 24) {
      var v: f32 = acc[1];
      v += acc2[1] * select(0.0, 1.1111111640930176, dropout_bits((params[0] ^ 0x4f8d29eu), u32(row * 24 + col)) >= 1677722u);
      dx[row * 24 + col] = v;
    }
  }
}
