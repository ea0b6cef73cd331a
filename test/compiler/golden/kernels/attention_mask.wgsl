// medctc kernel attention_batch2_bias_dh8_heads2_mask_nk7_nq9_scale0p35 (WGSL), generated: do not edit.
//   attention (online softmax): q [2,9,2,8], k/v [2,7,2,8], logits·0.35 + bias[h,nq,nk], key padding mask
// bindings: q[288] f32, k[224] f32, v[224] f32, bias[126] f32, mask[14] i32, o[288] f32 (out), lse[36] f32 (out)

@group(0) @binding(0) var<storage, read_write> q: array<f32>;
@group(0) @binding(1) var<storage, read_write> k: array<f32>;
@group(0) @binding(2) var<storage, read_write> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> mask: array<i32>;
@group(0) @binding(5) var<storage, read_write> o: array<f32>;
@group(0) @binding(6) var<storage, read_write> lse: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn attention(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let tx = i32(lid.x); let ty = i32(lid.y); let bx = i32(wid.x); let by = i32(wid.y); let bz = i32(wid.z); let gx = i32(nwg.x);
  let flat: i32 = ((by * gx + bx) * 64 + tx);
  if (flat < 36) {
    let qi: i32 = flat % 9; let hh: i32 = (flat / 9) % 2; let bb: i32 = flat / 18;
    let qb: i32 = ((bb * 9 + qi) * 2 + hh) * 8;
    var qv: array<f32, 8>;
    var acc: array<f32, 8>;
    for (var d: i32 = 0; d < 8; d += 1) { qv[d] = q[qb + d]; }
    var mx: f32 = (-3.0000000054977558e+38); var l: f32 = 0.0;
    for (var kj: i32 = 0; kj < 7; kj += 1) {
      if (mask[bb * 7 + kj] != 0) {
        let kb: i32 = ((bb * 7 + kj) * 2 + hh) * 8;
        var sc: f32 = 0.0;
        for (var d: i32 = 0; d < 8; d += 1) { sc += qv[d] * k[kb + d]; }
        sc = sc * 0.3499999940395355 + bias[(hh * 9 + qi) * 7 + kj];
        let mnew: f32 = max(mx, sc);
        let corr: f32 = exp(mx - mnew); let p: f32 = exp(sc - mnew);
        l = l * corr + p;
        for (var d: i32 = 0; d < 8; d += 1) { acc[d] = acc[d] * corr + p * v[kb + d]; }
        mx = mnew;
      }
    }
    let inv: f32 = select(0.0, 1.0 / l, l > 0.0);
    for (var d: i32 = 0; d < 8; d += 1) { o[qb + d] = acc[d] * inv; }
    lse[(bb * 2 + hh) * 9 + qi] = select(0.0, mx + log(l), l > 0.0);
  }
}
