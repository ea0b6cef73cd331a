// Scalar math the reference shares with the generated kernels (same formulas, evaluated in f64).

/** Numerical Recipes erfc Chebyshev fit (fractional error < 1.2e-7); the kernels use the same. */
export function erf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const c = [-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277];
  let poly = c[9]!;
  for (let i = 8; i >= 1; i--) poly = c[i]! + t * poly;
  const r = t * Math.exp(-z * z + c[0]! + t * poly);
  return x >= 0 ? 1 - r : r - 1;
}
export const gelu = (x: number): number => 0.5 * x * (1 + erf(x * Math.SQRT1_2));
export const geluGrad = (x: number): number => 0.5 * (1 + erf(x * Math.SQRT1_2)) + x * Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
