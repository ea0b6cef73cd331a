// `medctc convert IN OUT.safetensors`: a PyTorch checkpoint (or a safetensors file) rewritten as
// safetensors, every tensor in its stored dtype, views made contiguous, shared storages copied
// apart (safetensors has no aliasing). Atomic: a temp file beside OUT, renamed only when complete,
// so an interrupted or refused conversion never leaves a partial OUT.
import { resolve } from 'node:path';
import { basename } from 'node:path';
import type { CommandModule } from 'yargs';
import { DiagnosticError } from '../../base/diagnostics/types.js';
import { diag } from '../../base/diagnostics/catalog.js';
import { writeSafetensors, type Tensor } from '../../runtime/io/safetensors.js';
import { withStateDict } from '../../runtime/io/state-dict.js';

interface ConvertArgs { in: string; out: string; key?: string; stripPrefix?: string; json: boolean }

const usage = (message: string, help: string): never => { throw new DiagnosticError(diag('E0001', message, null, { help })); };

export const convertCommand: CommandModule<object, ConvertArgs> = {
  command: 'convert <in> <out>',
  describe: 'Rewrite a PyTorch checkpoint (.pt/.pth/.bin, zip or legacy) as safetensors, without running its pickle',
  builder: (y) => y
    .positional('in', { type: 'string', demandOption: true, describe: 'checkpoint written by torch.save (or a safetensors file)' })
    .positional('out', { type: 'string', demandOption: true, describe: 'the .safetensors file to write (replaced atomically)' })
    .option('key', { type: 'string', describe: 'path of the state dict inside a wrapping dict, keys joined by / (e.g. state_dict, model/ema)' })
    .option('strip-prefix', { type: 'string', describe: 'remove this prefix from every name that has it (e.g. module.)' })
    .option('json', { type: 'boolean', default: false, describe: 'print a JSON summary' }) as never,
  handler: (a) => {
    if (!a.out.endsWith('.safetensors')) usage(`the output must be a .safetensors file, got \`${a.out}\``, `e.g. medctc convert ${a.in} ${a.out.replace(/\.[^./]*$/, '')}.safetensors`);
    if (resolve(a.in) === resolve(a.out)) usage('the output would overwrite the input', 'name another output file');
    const summary = withStateDict(a.in, (f) => {
      const entries: [string, Tensor][] = f.names().map((n) => [n, f.read(n)]);
      writeSafetensors(a.out, entries, { format: 'pt', converted_from: basename(a.in) });
      return {
        format: f.format, notes: [...f.notes], tensors: entries.length,
        elements: entries.reduce((s, [, t]) => s + t.shape.reduce((x, d) => x * d, 1), 0),
        bytes: entries.reduce((s, [, t]) => s + t.data.byteLength, 0),
      };
    }, { ...(a.key !== undefined ? { key: a.key } : {}), ...(a.stripPrefix !== undefined ? { stripPrefix: a.stripPrefix } : {}) });
    if (a.json) {
      process.stdout.write(JSON.stringify({ ok: true, in: a.in, out: a.out, ...summary }, null, 2) + '\n');
      return;
    }
    for (const n of summary.notes) process.stderr.write(`note: ${n}\n`);
    process.stdout.write(`wrote ${a.out}: ${summary.tensors} tensors, ${summary.elements.toLocaleString('en-US')} elements, ${summary.bytes.toLocaleString('en-US')} bytes (from ${summary.format} ${a.in})\n`);
  },
};
