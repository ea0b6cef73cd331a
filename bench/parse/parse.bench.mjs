// Parse + check time for a generated 10,000-line spec (many experiments, each extending a base,
// with comments, lists, units and constants). Run after `npx tsc -p tsconfig.json`:
//   node bench/parse/parse.bench.mjs [lines=10000] [runs=7]
import { parseMedct } from '../../dist/grammar/index.js';
import { checkFiles } from '../../dist/compiler/check/index.js';

const targetLines = Number(process.argv[2] ?? 10000);
const runs = Number(process.argv[3] ?? 7);

const base = `# shared base
const lr = 1e-4
experiment "base" {
  seed 42
  model ct_clip {
    weights "weights/ct_clip.safetensors"
  }
  lora {
    rank 24
    alpha 48
    dropout 0.05
    target text "encoder.layer.*.attention.self.{query,key,value}"
    target image "visual_transformer.enc_*_transformer.layers.*.1.{to_q,to_kv}"
  }
  data ct_rate {
    root "data/ct-rate"
    preprocess {
      window [-1000, 1000] HU
      spacing [1.5, 0.75, 0.75] mm
      size [240, 480, 480] voxels
    }
  }
  train {
    optimizer adamw { lr lr; weight_decay 0.1 }
    schedule cosine { warmup 500 steps }
    epochs 10
    batch 4
  }
}
`;
const lines = base.split('\n');
for (let i = 0; lines.length < targetLines; i++) {
  lines.push(
    `# ablation ${i}`,
    `experiment "abl-${i}" extends "base" {`,
    `  seed ${i}`,
    '  lora {',
    `    rank ${8 + (i % 4) * 8}`,
    `    alpha ${16 + (i % 3) * 16}`,
    '  }',
    '  prompts {',
    '    positive "{pathology} is present."',
    '    negative "{pathology} is not present."',
    '    pathologies ["Cardiomegaly", "Emphysema", "Lung nodule", "Pleural effusion"]',
    '  }',
    '  evaluate {',
    '    metrics [auroc, accuracy, macro_f1]',
    '    threshold roc_corner',
    '  }',
    '}',
    '',
  );
}
const text = lines.join('\n');
const nLines = text.split('\n').length;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const time = (f) => { const t = process.hrtime.bigint(); const r = f(); return [Number(process.hrtime.bigint() - t) / 1e6, r]; };

parseMedct(text, 'bench.medct'); // warm up the parser (chevrotain builds its lookahead once)
const parseMs = [], checkMs = [];
let experiments = 0, diags = 0;
for (let i = 0; i < runs; i++) {
  parseMs.push(time(() => parseMedct(text, 'bench.medct'))[0]);
  const [ms, r] = time(() => checkFiles('bench.medct', { readFile: () => text }));
  checkMs.push(ms);
  experiments = r.experiments.length;
  diags = r.diagnostics.length;
}
console.log(`${nLines} lines, ${text.length} bytes, ${experiments} experiments, ${diags} diagnostics`);
console.log(`parse only:            median ${median(parseMs).toFixed(1)} ms over ${runs} runs (min ${Math.min(...parseMs).toFixed(1)})`);
console.log(`parse + check + IR:    median ${median(checkMs).toFixed(1)} ms over ${runs} runs (min ${Math.min(...checkMs).toFixed(1)})`);
