// The synthetic acquisition sites: the checker accepts the names the IR lists (compiler/ir
// SYNTHETIC_SITES, and spec/experiment.schema.json with them), and the generator has imaging
// parameters for exactly those names.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SYNTHETIC_SITES } from '../../compiler/ir/experiment.js';
import { SITES } from '../../runtime/data/synth/sites.js';

describe('synthetic sites', () => {
  it('the generator parameterises exactly the sites the IR names, each under its own name', () => {
    expect(Object.keys(SITES).sort()).toEqual([...SYNTHETIC_SITES].sort());
    for (const name of SYNTHETIC_SITES) expect(SITES[name]!.name).toBe(name);
  });
  it('the experiment schema lists the same sites', () => {
    const schema = JSON.parse(readFileSync(new URL('../../spec/experiment.schema.json', import.meta.url), 'utf8'));
    const enums: unknown[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        const site = (o.properties as Record<string, { enum?: unknown }> | undefined)?.site;
        if (site) enums.push(site.enum);
        Object.values(o).forEach(walk);
      }
    };
    walk(schema);
    expect(enums).toEqual([[...SYNTHETIC_SITES]]);
  });
});
