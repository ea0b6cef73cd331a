// Validation of resolved experiments against spec/experiment.schema.json (ajv, draft 2020-12).
// The checker validates every IR it builds: a failure there is a bug in medctc, not in the spec.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';

const SCHEMA = 'spec/experiment.schema.json';

/** The schema file, found from source (vitest) or from dist/ (after tsc) by walking up to package.json. */
export function experimentSchemaPath(): string {
  const direct = fileURLToPath(new URL(`../../${SCHEMA}`, import.meta.url));
  if (existsSync(direct)) return direct;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, SCHEMA))) return join(dir, SCHEMA);
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find ${SCHEMA} above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

let compiled: ReturnType<Ajv2020['compile']> | null = null;

/** Every way `ir` departs from the schema (`/pointer message`); empty when valid. */
export function validateExperiment(ir: unknown): string[] {
  compiled ??= new Ajv2020({ allErrors: true, strict: true, discriminator: true }).compile(JSON.parse(readFileSync(experimentSchemaPath(), 'utf8')));
  if (compiled(ir)) return [];
  return (compiled.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`.trim());
}
