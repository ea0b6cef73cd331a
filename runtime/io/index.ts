// Public surface of runtime/io: file formats (safetensors weights, PNG previews). Atomic writes are base/atomic.ts.
export {
  SafetensorsFile, withSafetensors, readSafetensors, decodeSafetensors, encodeSafetensors, safetensorsParts, writeSafetensors,
  parseHeader, toFloat32, fromFloat32, f16ToF32, bf16ToF32, f32ToF16Bits, f32ToBf16Bits, DTYPE_SIZE, MAX_HEADER_BYTES,
  type Dtype, type Tensor, type TensorData, type TensorInfo, type SafetensorsHeader,
} from './safetensors.js';
export { encodePng, crc32 } from './png.js';
