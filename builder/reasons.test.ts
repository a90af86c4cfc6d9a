import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadInputs, saveInputs, type StepFacets } from './reasons.js';

describe('saveInputs', () => {
  it('writes, a piece at a time, what JSON.stringify would: holes, facets without files, many files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inputs-'));
    try {
      const files: Record<string, string> = {};
      for (let i = 0; i < 30_000; i++) files[`d${i % 97}/f "${i}".txt`] = `644:${i.toString(16).padStart(64, '0')}`;
      const facets: StepFacets[] = [];
      facets[1] = { instruction: 'FROM busybox', base: 'sha256:1' };
      facets[2] = { instruction: 'COPY . /ctx/', files, layer: 'sha256:2' };
      facets[3] = { instruction: 'COPY empty /', files: {} };
      facets[4] = { instruction: 'RUN x', env: { A: 'b\n"c"' } };
      const file = join(dir, 'inputs.json');
      await saveInputs(file, facets);
      expect(await loadInputs(file)).toEqual(JSON.parse(JSON.stringify(facets)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
