// Public surface of runtime/util: the seeded PRNG (weights are filled by runtime/exec/init.ts from
// the initialisers the compiler chose).
export { Rng, splitmix64, type RngState } from './rng.js';
