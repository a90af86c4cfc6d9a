import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadInputs, saveInputs, type StepFacets } from './reasons.js';
import { FilesSpool } from './steps/files-spool.js';

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

  it('a spooled COPY (files-spool.ts) is saved as its files would be, and reads back as them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inputs-'));
    try {
      const files: Record<string, string> = {};
      const spool = FilesSpool.create(join(dir, 'spool'));
      const relOf = (i: number): string => `d${i % 97}/f "${i}"\\\n é.txt`;
      for (let i = 0; i < 30_000; i++) {
        // quotes, backslashes, newlines and non-ASCII in names, and one path given twice (the last value wins)
        const rel = relOf(i === 29_999 ? 0 : i);
        files[rel] = `644:${i.toString(16).padStart(64, '0')}`;
        spool.add(rel, files[rel]);
      }
      const spooled: StepFacets[] = [];
      spooled[1] = { instruction: 'FROM busybox', base: 'sha256:1' };
      spooled[2] = { instruction: 'COPY . /ctx/', filesSpool: spool, layer: 'sha256:2' };
      const plain: StepFacets[] = [...spooled];
      plain[2] = { instruction: 'COPY . /ctx/', files, layer: 'sha256:2' };
      const a = join(dir, 'a.json');
      const b = join(dir, 'b.json');
      await saveInputs(a, spooled);
      await saveInputs(b, plain);
      expect(await loadInputs(a)).toEqual(await loadInputs(b));
      expect(await spool.load()).toEqual(files);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
