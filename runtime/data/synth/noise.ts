// Hash-based spatial patterns: deterministic, seed-free functions of position.

export function hash3(x: number, y: number, z: number): number {
  let h = Math.imul(x, 374761393) ^ Math.imul(y, 668265263) ^ Math.imul(z, 2147483647);
  h = Math.imul(h ^ (h >>> 13), 1274126177);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Distance (in cell units) to the nearest boundary of a jittered-grid Voronoi tessellation, (F2 - F1) / 2. */
export function voronoiEdgeDistance(x: number, y: number, z: number): number {
  const xi = Math.floor(x), yi = Math.floor(y), zi = Math.floor(z);
  let f1 = Infinity, f2 = Infinity;
  for (let dz = -1; dz <= 1; dz++) for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
    const h = hash3(xi + dx, yi + dy, zi + dz);
    const px = xi + dx + (h & 255) / 255, py = yi + dy + ((h >>> 8) & 255) / 255, pz = zi + dz + ((h >>> 16) & 255) / 255;
    const dist = Math.hypot(px - x, py - y, pz - z);
    if (dist < f1) { f2 = f1; f1 = dist; } else if (dist < f2) f2 = dist;
  }
  return (f2 - f1) / 2;
}
