// Writes examples/weights/ct_clip_tiny-source.json from a pretraining run folder, so the record that
// test/run/pretrain.test.ts checks is made from what the run wrote, not by hand:
//   node bench/run/record-base.mjs runs/pretrain-tiny
// It copies nothing: the weights file must already be in examples/weights (the command prints the
// `cp` to run when its bytes differ from the run's model.safetensors).
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const runDir = process.argv[2];
if (!runDir) { console.error('usage: node bench/run/record-base.mjs RUN_DIR'); process.exit(2); }
const WEIGHTS = 'examples/weights/ct_clip_tiny-source.safetensors';
const RECORD = 'examples/weights/ct_clip_tiny-source.json';

const sha = (b) => createHash('sha256').update(b).digest('hex');
const model = readFileSync(join(runDir, 'model.safetensors'));
const committed = readFileSync(WEIGHTS);
if (sha(model) !== sha(committed)) {
  console.error(`${WEIGHTS} is not ${runDir}/model.safetensors; first: cp ${join(runDir, 'model.safetensors')} ${WEIGHTS}`);
  process.exit(2);
}
const run = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8'));
const metrics = JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8'));
const log = readFileSync(join(runDir, 'train_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.loss !== undefined);
const perEpoch = run.train.batchesPerEpoch;
const firstEpoch = log.filter((e) => e.epoch === 1).map((e) => e.loss);
if (firstEpoch.length !== perEpoch) throw new Error(`first epoch has ${firstEpoch.length} logged steps, expected ${perEpoch}`);
const threads = run.compiler?.threads;
const record = {
  file: 'ct_clip_tiny-source.safetensors',
  sha256: sha(model),
  bytes: model.length,
  made_by: 'examples/pretrain-tiny.medct',
  command: `npm run build && MEDCTC_THREADS=${threads} node dist/cli/medctc.js run examples/pretrain-tiny.medct --out runs/pretrain-tiny`,
  backend: run.backend,
  threads,
  compiler: run.compiler,
  device: run.device,
  seconds: Math.round(run.seconds.train * 10) / 10,
  steps: run.train.steps,
  loss: { first: run.train.firstLoss, last: run.train.lastLoss },
  // Mean over the first and over the last epoch (the single steps above are one batch each).
  epochMeanLoss: { first: run.train.firstEpochLoss, last: run.train.lastEpochLoss },
  firstEpoch: { steps: perEpoch, losses: firstEpoch },
  zeroShotSourceValid: { volumes: metrics.volumes, mean: metrics.final.mean },
};
if (!record.zeroShotSourceValid.mean) throw new Error('metrics.json has no mean metrics');
const tmp = `${RECORD}.tmp-${process.pid}`;
writeFileSync(tmp, JSON.stringify(record, null, 2) + '\n');
renameSync(tmp, RECORD);
console.log(`wrote ${RECORD}: sha256 ${record.sha256}, ${record.bytes} bytes, ${record.steps} steps, loss ${record.loss.first} -> ${record.loss.last}`);
