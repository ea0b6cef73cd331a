// A volume being painted in HU, in NIfTI storage order (x fastest). Positions are millimetres
// from the volume centre: +X towards the patient's left, +Y posterior, +Z superior.
// Shapes are signed distance functions (negative inside); edges are anti-aliased over one voxel,
// which is what partial-volume averaging does in a real scanner, so structures smaller than a
// voxel still leave a faint trace instead of vanishing between voxel centres.

export type Vec3 = [number, number, number];
export type Sdf = (x: number, y: number, z: number) => number;
export type Value = number | ((x: number, y: number, z: number, old: number) => number);

export interface PaintOptions {
  /** Only voxels where this holds are painted (e.g. inside a lung). */
  mask?: (idx: number) => boolean;
  /** How the new value combines with the old one. */
  blend?: 'replace' | 'max' | 'min';
  /** Mark voxels at least half covered with this lung id (0 = no longer lung). */
  lung?: number;
  /** Coverage needed to set `lung` (default 0.5). The lungs themselves claim their partial-volume
   *  rim too, so later changes to lung tissue (fluid, emphysema) leave no dark outline behind. */
  lungMinCoverage?: number;
  /** Edge width in voxels (1 = hard partial-volume edge; more = feathered, e.g. ground glass). */
  feather?: number;
}

export class Canvas {
  readonly hu: Float32Array;
  /** 0 outside lungs, 1 right lung, 2 left lung. */
  readonly lung: Uint8Array;
  /** Normalised in-plane radius inside the lung ellipse (0 centre, 1 pleura). */
  readonly lungRho: Float32Array;
  private readonly h: number;

  /** `offset`: where the patient's centre line sits in the volume (mm, x and y), i.e. table position. */
  constructor(readonly nx: number, readonly ny: number, readonly nz: number,
              readonly sx: number, readonly sy: number, readonly sz: number, fill: number,
              readonly offset: [number, number] = [0, 0]) {
    const n = nx * ny * nz;
    this.hu = new Float32Array(n).fill(fill);
    this.lung = new Uint8Array(n);
    this.lungRho = new Float32Array(n);
    this.h = (sx + sy + sz) / 3;
  }

  x(i: number): number { return (i - (this.nx - 1) / 2) * this.sx - this.offset[0]; }
  y(j: number): number { return (j - (this.ny - 1) / 2) * this.sy - this.offset[1]; }
  z(k: number): number { return (k - (this.nz - 1) / 2) * this.sz; }
  index(i: number, j: number, k: number): number { return (k * this.ny + j) * this.nx + i; }

  /** Voxel index range covering [lo, hi] mm along one axis (with a one-voxel margin). */
  private range(lo: number, hi: number, n: number, s: number, o: number): [number, number] {
    const c = (n - 1) / 2;
    return [Math.max(0, Math.floor((lo + o) / s + c) - 1), Math.min(n - 1, Math.ceil((hi + o) / s + c) + 1)];
  }

  /** Paints `sdf` inside the box [lo, hi] (mm). */
  paint(lo: Vec3, hi: Vec3, sdf: Sdf, value: Value, opts: PaintOptions = {}): void {
    const [i0, i1] = this.range(lo[0], hi[0], this.nx, this.sx, this.offset[0]);
    const [j0, j1] = this.range(lo[1], hi[1], this.ny, this.sy, this.offset[1]);
    const [k0, k1] = this.range(lo[2], hi[2], this.nz, this.sz, 0);
    const edge = this.h * (opts.feather ?? 1);
    const blend = opts.blend ?? 'replace';
    for (let k = k0; k <= k1; k++) {
      const z = this.z(k);
      for (let j = j0; j <= j1; j++) {
        const y = this.y(j);
        for (let i = i0; i <= i1; i++) {
          const x = this.x(i);
          const d = sdf(x, y, z);
          if (d >= edge / 2) continue;
          const idx = (k * this.ny + j) * this.nx + i;
          if (opts.mask && !opts.mask(idx)) continue;
          const a = d <= -edge / 2 ? 1 : 0.5 - d / edge;
          const old = this.hu[idx]!;
          let v = typeof value === 'number' ? value : value(x, y, z, old);
          if (blend === 'max') v = Math.max(v, old);
          else if (blend === 'min') v = Math.min(v, old);
          this.hu[idx] = old + a * (v - old);
          if (opts.lung !== undefined && a >= (opts.lungMinCoverage ?? 0.5)) this.lung[idx] = opts.lung;
        }
      }
    }
  }

  sphere(c: Vec3, r: number, value: Value, opts?: PaintOptions): void {
    this.paint([c[0] - r, c[1] - r, c[2] - r], [c[0] + r, c[1] + r, c[2] + r],
      (x, y, z) => Math.hypot(x - c[0], y - c[1], z - c[2]) - r, value, opts);
  }

  ellipsoid(c: Vec3, r: Vec3, value: Value, opts?: PaintOptions): void {
    const rmin = Math.min(r[0], r[1], r[2]);
    this.paint([c[0] - r[0], c[1] - r[1], c[2] - r[2]], [c[0] + r[0], c[1] + r[1], c[2] + r[2]],
      (x, y, z) => (Math.hypot((x - c[0]) / r[0], (y - c[1]) / r[1], (z - c[2]) / r[2]) - 1) * rmin, value, opts);
  }

  /** A cylinder with round ends from a to b. */
  capsule(a: Vec3, b: Vec3, r: number, value: Value, opts?: PaintOptions): void {
    const ab: Vec3 = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
    const len2 = ab[0] * ab[0] + ab[1] * ab[1] + ab[2] * ab[2] || 1;
    this.paint(
      [Math.min(a[0], b[0]) - r, Math.min(a[1], b[1]) - r, Math.min(a[2], b[2]) - r],
      [Math.max(a[0], b[0]) + r, Math.max(a[1], b[1]) + r, Math.max(a[2], b[2]) + r],
      (x, y, z) => {
        const t = Math.max(0, Math.min(1, ((x - a[0]) * ab[0] + (y - a[1]) * ab[1] + (z - a[2]) * ab[2]) / len2));
        return Math.hypot(x - a[0] - t * ab[0], y - a[1] - t * ab[1], z - a[2] - t * ab[2]) - r;
      }, value, opts);
  }

  /** Calls fn for every voxel of the given lung (0 = either lung). */
  forLung(side: number, fn: (idx: number, x: number, y: number, z: number) => void): void {
    for (let k = 0; k < this.nz; k++) {
      for (let j = 0; j < this.ny; j++) {
        for (let i = 0; i < this.nx; i++) {
          const idx = (k * this.ny + j) * this.nx + i;
          const l = this.lung[idx]!;
          if (l !== 0 && (side === 0 || l === side)) fn(idx, this.x(i), this.y(j), this.z(k));
        }
      }
    }
  }
}
