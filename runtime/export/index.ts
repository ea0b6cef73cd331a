// Public surface of runtime/export: experiments exported to other engines (PyTorch).
export { exportPytorch, exportConfig, pytorchProgramPath, PYTORCH_EXPORT_VERSION, type PytorchExport, type PytorchExportOptions } from './pytorch.js';
