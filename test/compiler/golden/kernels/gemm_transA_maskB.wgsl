// medctc kernel gemm_alpha1_k33_m9_maskB0p25_n12_stream3_transA (WGSL), generated: do not edit.
//   c[9,12] = 1·aᵀ·dropout(b, p=0.25, stream 3)
// bindings: a[297] f32, b[396] f32, params[4] u32, c[108] f32 (out)

fn dropout_bits(seed: u32, idx: u32) -> u32 {
  var h: u32 = ((idx * 0x9E3779B9u) ^ seed);
  h = h ^ (h >> 16u);
  h = h * 0x7feb352du;
  h = h ^ (h >> 15u);
  h = h * 0x846ca68bu;
  h = h ^ (h >> 16u);
  return h >> 8u;
}

@group(0) @binding(0) var<storage, read_write> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> params: array<u32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
var<workgroup> As: array<f32, 256>;
var<workgroup> Bs: array<f32, 256>;

@compute @workgroup_size(16, 16, 1)
fn gemm(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let tx = i32(lid.x); let ty = i32(lid.y); let bx = i32(wid.x); let by = i32(wid.y); let bz = i32(wid.z); let gx = i32(nwg.x);
  let lin: i32 = ty * 16 + tx;
  let row0: i32 = by * 16;
  let col0: i32 = bx * 16;
  var acc: array<f32, 1>;
  var ra: array<f32, 1>;
  var rb: array<f32, 1>;
  // segment 0: aᵀ · b over K = 33
  for (var k0_0: i32 = 0; k0_0 < 33; k0_0 += 16) {
  {
    let kk: i32 = ((lin + 0) / 16); let oo: i32 = ((lin + 0) % 16);
    let gk: i32 = k0_0 + kk; let go: i32 = row0 + oo;
    var v: f32 = 0.0;
    if (gk < 33 && go < 9) {
      let src: i32 = gk * 9 + go;
      v = a[src];
    }
    As[kk * 16 + oo] = v;
  }
  {
    let kk: i32 = ((lin + 0) / 16); let oo: i32 = ((lin + 0) % 16);
    let gk: i32 = k0_0 + kk; let go: i32 = col0 + oo;
    var v: f32 = 0.0;
    if (gk < 33 && go < 12) {
      let src: i32 = gk * 12 + go;
      v = b[src] * select(0.0, 1.3333333730697632, dropout_bits((params[0] ^ 0x6ba5a157u), u32(src)) >= 4194304u);
    }
    Bs[kk * 16 + oo] = v;
  }
    workgroupBarrier();
    for (var kk: i32 = 0; kk < 16; kk += 1) {
      ra[0] = As[kk * 16 + ty + 0];
      rb[0] = Bs[kk * 16 + tx + 0];
      acc[0] += ra[0] * rb[0];
    }
    workgroupBarrier();
  }
  // epilogue
  {
    let row: i32 = row0 + ty + 0; let col: i32 = col0 + tx + 0;
    if (row < 9 && col < 12) {
      var v: f32 = acc[0];
      c[row * 12 + col] = v;
    }
  }
}
