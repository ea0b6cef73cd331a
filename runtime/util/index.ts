// Public surface of runtime/util: the seeded PRNG and PyTorch-style initialisers.
export { Rng, splitmix64, kaimingUniform, linearBiasUniform, xavierUniform, normalInit, loraInitA, type RngState } from './rng.js';
