// metrics.json validation against spec/metrics.schema.json (ajv), as the plan and IR are validated.
import { existsSync, readFileSync } from 'node:fs';
import { Ajv } from 'ajv';

let compiled: ReturnType<Ajv['compile']> | null = null;

function validator(): ReturnType<Ajv['compile']> {
  if (!compiled) {
    // From source (runtime/run) the schema is two folders up; from dist/runtime/run, three.
    const candidates = [new URL('../../spec/metrics.schema.json', import.meta.url), new URL('../../../spec/metrics.schema.json', import.meta.url)];
    const url = candidates.find((u) => existsSync(u));
    if (!url) throw new Error('internal: spec/metrics.schema.json not found');
    compiled = new Ajv({ allErrors: true, strict: true }).compile(JSON.parse(readFileSync(url, 'utf8')));
  }
  return compiled;
}

/** Every problem with a metrics.json value; empty when valid. */
export function validateMetrics(value: unknown): string[] {
  const v = validator();
  return v(value) ? [] : (v.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`.trim());
}
