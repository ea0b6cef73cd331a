// PyTorch checkpoints read against files PyTorch itself wrote (test/io/fixtures/make_pt.py,
// torch 1.13): zip and legacy formats, pickle protocols 1, 2 and 4, a DEFLATE re-zip, shared
// storages, offsets, transposed / strided / stride-0 views, every dtype a state dict carries,
// 0-dim and empty tensors, wrapped and `module.`-prefixed state dicts; and the refusals: a pickle
// that would run os.system (and does not), a whole pickled nn.Module, a sparse tensor, truncation.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TorchCheckpoint } from '../../runtime/io/pt.js';
import { detectWeightsFormat, openStateDict, readStateDict, withStateDict } from '../../runtime/io/state-dict.js';
import { writeSafetensors, fromFloat32 } from '../../runtime/io/safetensors.js';
import { expectDiag, FIX, PWNED, tempDir } from './helpers.js';

interface Expected { dtype: string; shape: number[]; values: (number | string)[]; storage_of: string | null }
const basicExpected = (dir = FIX): Record<string, Expected> => JSON.parse(readFileSync(join(dir, 'basic.expected.json'), 'utf8')).tensors;

/** The tensor's row-major values in the form basic.expected.json writes them (torch's .tolist()). */
function values(f: ReturnType<typeof openStateDict>, name: string): (number | string)[] {
  const t = f.read(name);
  if (t.dtype === 'I64') return [...(t.data as BigInt64Array)].map(String);
  if (t.dtype === 'F16' || t.dtype === 'BF16') return [...f.readF32(name)];
  return Array.from(t.data as ArrayLike<number>, Number);
}

function checkBasic(dir: string, file: string, format: string): void {
  const want = basicExpected(dir);
  withStateDict(join(dir, file), (f) => {
    expect(f.format).toBe(format);
    expect(f.names()).toEqual(Object.keys(want));
    for (const [name, w] of Object.entries(want)) {
      expect(f.info(name), name).toMatchObject({ dtype: w.dtype, shape: w.shape });
      expect(values(f, name), name).toEqual(w.values);
    }
  });
}

describe('PyTorch checkpoints written by torch.save', () => {
  for (const [file, format] of [['basic.pt', 'torch-zip'], ['basic_p4.pt', 'torch-zip'], ['basic_deflate.pt', 'torch-zip'],
    ['basic_legacy.pt', 'torch-legacy'], ['basic_legacy_p1.pt', 'torch-legacy']] as const) {
    it(`${file}: every tensor's dtype, shape and values as PyTorch wrote them`, () => checkBasic(FIX, file, format));
  }

  it('the format comes from the magic bytes, not the name (a legacy file named .safetensors still reads)', () => {
    const dir = tempDir('pt');
    copyFileSync(join(FIX, 'basic_legacy.pt'), join(dir, 'weights.safetensors'));
    expect(detectWeightsFormat(join(dir, 'weights.safetensors'))).toBe('torch-legacy');
    checkBasic(FIX, 'basic_legacy.pt', 'torch-legacy');
    expect(readStateDict(join(dir, 'weights.safetensors')).get('a')!.data).toEqual(Float32Array.from({ length: 12 }, (_, i) => i / 8));
    // and a real safetensors file (header length 0x0280 would start with the bytes 80 02) is not mistaken for a pickle
    const st = join(dir, 'x.safetensors');
    writeSafetensors(st, [['w', fromFloat32(new Float32Array([1, 2]), [2])]]);
    expect(detectWeightsFormat(st)).toBe('safetensors');
  });

  it('views that share a storage point at the same storage in the zip format (read once per tensor, copied out contiguously)', () => {
    const ck = TorchCheckpoint.open(join(FIX, 'basic.pt'));
    try {
      const want = basicExpected();
      for (const [name, w] of Object.entries(want)) if (w.storage_of) expect(ck.info(name).storage, name).toBe(ck.info(w.storage_of).storage);
      expect(ck.info('a_t').contiguous).toBe(false);
      expect(ck.info('a_rows').contiguous).toBe(true);
      // Each read is its own array: writing into one view's result leaves the others alone.
      const t = ck.readF32('a_t');
      t[0] = 99;
      expect(ck.readF32('a')[0]).toBe(0);
    } finally {
      ck.close();
    }
  });

  it('a training checkpoint ({"state_dict": ..., "optimizer": ...}) is unwrapped with a note; --key picks another dict', () => {
    const small = JSON.parse(readFileSync(join(FIX, 'small.expected.json'), 'utf8')).tensors as Record<string, Expected>;
    for (const file of ['wrapped.pt', 'wrapped_model.pt']) {
      withStateDict(join(FIX, file), (f) => {
        expect(f.names()).toEqual(Object.keys(small));
        for (const [name, w] of Object.entries(small)) expect(values(f, name)).toEqual(w.values);
        expect(f.notes.join('\n')).toContain(file === 'wrapped.pt' ? 'checkpoint["state_dict"]' : 'checkpoint["model"]');
      });
    }
    expect(withStateDict(join(FIX, 'wrapped.pt'), (f) => f.names(), { key: 'optimizer/state/0' }).length).toBeGreaterThan(0);
    expectDiag(() => openStateDict(join(FIX, 'wrapped.pt'), { key: 'nope' }), 'E5584', ['checkpoint["nope"] does not exist']);
    expectDiag(() => openStateDict(join(FIX, 'wrapped.pt'), { key: 'epoch' }), 'E5584', ['not a dict of tensors']);
  });

  it('a DataParallel "module." prefix is pointed out, and stripped on request', () => {
    const small = JSON.parse(readFileSync(join(FIX, 'small.expected.json'), 'utf8')).tensors as Record<string, Expected>;
    withStateDict(join(FIX, 'module_prefix.pt'), (f) => {
      expect(f.names()).toEqual(Object.keys(small).map((k) => `module.${k}`));
      expect(f.notes.join('\n')).toContain('--strip-prefix module.');
    });
    withStateDict(join(FIX, 'module_prefix.pt'), (f) => {
      expect(f.names()).toEqual(Object.keys(small));
      expect(f.notes).toEqual([]);
    }, { stripPrefix: 'module.' });
  });
});

describe('refused checkpoints', () => {
  for (const file of ['malicious.pt', 'malicious_legacy.pt', 'malicious.bin']) {
    it(`${file}: a pickle that calls os.system is E5582 naming the global, and nothing runs`, () => {
      rmSync(PWNED, { force: true });
      const e = expectDiag(() => openStateDict(join(FIX, file)), 'E5582', ['`posix.system`', 'nothing was run', 'malicious']);
      expect(e.diagnostics[0]!.primary!.file).toBe(join(FIX, file));
      expect(existsSync(PWNED)).toBe(false);
    });
  }
  it('a whole pickled nn.Module names its class and says to save the state dict', () => {
    expectDiag(() => openStateDict(join(FIX, 'whole_module.pt')), 'E5582', ['`torch.nn.modules.linear.Linear`', 'state_dict()']);
  });
  it('a sparse tensor is refused by name', () => {
    expectDiag(() => openStateDict(join(FIX, 'sparse.pt')), 'E5582', ['torch._utils._rebuild_sparse_tensor']);
  });
  it('a view reaching past its storage is E5586 (no read runs off the end)', () => {
    expectDiag(() => openStateDict(join(FIX, 'view_out_of_bounds.pt')), 'E5586', ['"w"', 'reaches element 17 of a 12-element storage']);
  });
  it('truncated files are E5581, whichever part is cut', () => {
    const dir = tempDir('pt');
    for (const [file, cuts] of [['basic.pt', [200, 2000, 3900]], ['basic_legacy.pt', [40, 600, 2000]], ['ct_clip_tiny.pt', [600_000]]] as const) {
      const bytes = readFileSync(join(FIX, file));
      for (const cut of cuts) {
        const p = join(dir, `${cut}-${file}`);
        writeFileSync(p, bytes.subarray(0, cut));
        expectDiag(() => openStateDict(p), 'E5581', [p]);
      }
    }
  });
  it('a plain pickle of data, and a zip that is not a checkpoint, are E5580', () => {
    const dir = tempDir('pt');
    // pickle.dumps({"a": 1}, protocol=2)
    writeFileSync(join(dir, 'plain.pkl'), Buffer.from('80027d710058010000006171014b01732e', 'hex'));
    expectDiag(() => openStateDict(join(dir, 'plain.pkl')), 'E5580', ['magic number']);
    // An empty zip: only the end-of-central-directory record... with a local-header start so it is sniffed as zip.
    const eocd = Buffer.alloc(22); eocd.writeUInt32LE(0x06054b50, 0);
    writeFileSync(join(dir, 'empty.zip'), Buffer.concat([Buffer.from('504b0304', 'hex'), Buffer.alloc(26), eocd]));
    expectDiag(() => openStateDict(join(dir, 'empty.zip')), 'E5580', ['data.pkl']);
    expectDiag(() => openStateDict(join(dir, 'missing.pt')), 'E5501');
  });
});

// Regenerating the fixtures needs PyTorch; the committed files above are what CI checks.
const torchPython = ['/usr/bin/python3', 'python3'].find((py) => spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0);
if (!torchPython) console.warn('test/io/pt.test.ts: PyTorch is not importable, so the fixtures are not regenerated (apt-get install python3-torch to do it)');
describe.skipIf(!torchPython)('fixtures freshly written by this machine\'s PyTorch', () => {
  it('make_pt.py output reads back exactly as PyTorch describes it', () => {
    const dir = tempDir('pt-fresh');
    const r = spawnSync(torchPython!, [join(FIX, 'make_pt.py'), dir], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    for (const [file, format] of [['basic.pt', 'torch-zip'], ['basic_p4.pt', 'torch-zip'], ['basic_deflate.pt', 'torch-zip'],
      ['basic_legacy.pt', 'torch-legacy'], ['basic_legacy_p1.pt', 'torch-legacy']] as const) checkBasic(dir, file, format);
    // The tiny-model files are the same tensors as the committed ones.
    for (const file of ['ct_clip_tiny.pt', 'ct_clip_tiny_ema_legacy.pt']) {
      const fresh = readStateDict(join(dir, file)), committed = readStateDict(join(FIX, file));
      expect([...fresh.keys()]).toEqual([...committed.keys()]);
      for (const [k, v] of fresh) expect(v.data, k).toEqual(committed.get(k)!.data);
    }
    expect(existsSync(PWNED)).toBe(false);
  }, 120_000);
});
