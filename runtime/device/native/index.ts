// Public surface of the native CPU device (generated C, compiled by the system compiler).
export { openNative, NativeDevice, threadCount, configureOpenMpWait, type NativeOptions } from './device.js';
export { findCompiler, cacheDir, type CCompiler } from './compiler.js';
