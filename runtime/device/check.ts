// Shared argument check: a dispatch with the wrong buffers is a diagnosable mistake, not a GPU fault.
import type { Binding } from '../../compiler/kernels/bindings.js';
import { DiagnosticError } from '../../compiler/diagnostics/types.js';
import { diag } from '../../compiler/diagnostics/catalog.js';
import type { DeviceBuffer } from './types.js';

export function checkBuffers(kernel: string, bindings: Binding[], buffers: DeviceBuffer[]): void {
  if (buffers.length !== bindings.length) {
    throw new DiagnosticError(diag('E4004', `kernel ${kernel} takes ${bindings.length} buffers (${bindings.map((b) => b.name).join(', ')}), got ${buffers.length}`, null));
  }
  bindings.forEach((b, i) => {
    if (buffers[i]!.bytes < b.size * 4) {
      throw new DiagnosticError(diag('E4004', `kernel ${kernel}: buffer ${i} (${b.name}) holds ${buffers[i]!.bytes} bytes, needs ${b.size * 4}`, null));
    }
  });
}
