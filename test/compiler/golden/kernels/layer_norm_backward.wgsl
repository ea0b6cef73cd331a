// medctc kernel layer_norm_backward_bias_eps0p00001_n37_rows13 (WGSL), generated: do not edit.
//   layer_norm backward over [13,37]: dx (per row), dgamma/dbeta (per column)
// bindings: x[481] f32, gamma[37] f32, dy[481] f32, dx[481] f32 (out), dgamma[37] f32 (out), dbeta[37] f32 (out), stats[26] f32 (out)

@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> gamma: array<f32>;
@group(0) @binding(2) var<storage, read_write> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@group(0) @binding(4) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(5) var<storage, read_write> dbeta: array<f32>;
@group(0) @binding(6) var<storage, read_write> stats: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn layer_norm_backward_rows(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let tx = i32(lid.x); let ty = i32(lid.y); let bx = i32(wid.x); let by = i32(wid.y); let bz = i32(wid.z); let gx = i32(nwg.x);
  let i: i32 = ((by * gx + bx) * 64 + tx);
  if (i < 13) {
    let o: i32 = i * 37;
    var s: f32 = 0.0;
    for (var j: i32 = 0; j < 37; j += 1) { s += x[o + j]; }
    let mean: f32 = s / 37.0;
    var q: f32 = 0.0;
    for (var j: i32 = 0; j < 37; j += 1) { q += (x[o + j] - mean) * (x[o + j] - mean); }
    let rstd: f32 = 1.0 / sqrt(q / 37.0 + 0.000009999999747378752);
    stats[2 * i] = mean;
    stats[2 * i + 1] = rstd;
    var g1: f32 = 0.0;
    for (var j: i32 = 0; j < 37; j += 1) { g1 += dy[o + j] * gamma[j]; }
    var g2: f32 = 0.0;
    for (var j: i32 = 0; j < 37; j += 1) { g2 += dy[o + j] * gamma[j] * (x[o + j] - mean) * rstd; }
    for (var j: i32 = 0; j < 37; j += 1) { dx[o + j] = rstd * (dy[o + j] * gamma[j] - g1 / 37.0 - (x[o + j] - mean) * rstd * g2 / 37.0); }
  }
}


@compute @workgroup_size(256, 1, 1)
fn layer_norm_backward_cols(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let tx = i32(lid.x); let ty = i32(lid.y); let bx = i32(wid.x); let by = i32(wid.y); let bz = i32(wid.z); let gx = i32(nwg.x);
  let i: i32 = ((by * gx + bx) * 256 + tx);
  if (i < 37) {
    var dg: f32 = 0.0;
    var db: f32 = 0.0;
    for (var r: i32 = 0; r < 13; r += 1) { let g: f32 = dy[r * 37 + i]; dg += g * (x[r * 37 + i] - stats[2 * r]) * stats[2 * r + 1]; db += g; }
    dgamma[i] = dg;
    dbeta[i] = db;
  }
}
