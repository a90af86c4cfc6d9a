import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Digest } from '../../oci/index.js';
import type { ScanResult } from './scan.js';
import {
  keptSbomStatement,
  sbomStatement,
  STATEMENT_REVISION,
  STATEMENT_SOURCES,
  type SbomInputs,
} from './sbom-statement.js';

/** What shapes a statement's bytes: the document writers, the statement's envelope (provenance.ts) and this module
 * (less the digest line it holds). */
const WRITERS = ['cyclonedx.ts', 'provenance.ts', 'sbom-statement.ts', 'spdx.ts'];

const scanned: ScanResult = {
  packages: [
    { kind: 'npm', name: 'left-pad', version: '1.3.0', purl: 'pkg:npm/left-pad@1.3.0', foundIn: '/a', files: [] },
  ],
};
const inputs: SbomInputs = {
  format: 'spdx',
  name: 'app',
  created: new Date('2024-01-01T00:00:00Z'),
  toolVersion: '1.0.0',
  subjects: [{ name: 'pkg:docker/app@1?platform=linux%2Famd64', digest: `sha256:${'a'.repeat(64)}` }],
};

describe('keptSbomStatement', () => {
  it('is keyed to the document writers it was made with', async () => {
    const here = dirname(fileURLToPath(import.meta.url));
    const h = createHash('sha256');
    for (const n of WRITERS) {
      const text = (await readFile(join(here, n), 'utf8')).replace(/^export const STATEMENT_SOURCES = .*$/m, '');
      h.update(`${n}\0${text}\0`);
    }
    const digest = h.digest('hex');
    expect(
      digest,
      `the SBOM document writers changed: raise STATEMENT_REVISION (now ${STATEMENT_REVISION}) in sbom-statement.ts, so no statement kept by the old ones is used, and set STATEMENT_SOURCES to ${digest}`,
    ).toBe(STATEMENT_SOURCES);
  });

  it('writes a statement once per layer chain and inputs, and again when its blob is gone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsbuild-sbom-statement-'));
    try {
      let scans = 0;
      const scan = (): Promise<ScanResult> => {
        scans++;
        return Promise.resolve(scanned);
      };
      const stored = new Set<string>();
      const has = (d: Digest): Promise<boolean> => Promise.resolve(stored.has(d));
      const first = await keptSbomStatement(dir, ['sha256:a'], inputs, scan, has);
      expect(first.bytes).toEqual(sbomStatement(scanned, inputs).bytes);
      stored.add(first.digest);
      const second = await keptSbomStatement(dir, ['sha256:a'], inputs, scan, has);
      expect(scans).toBe(1);
      expect(second).toEqual({ predicateType: first.predicateType, digest: first.digest, size: first.size });

      // another chain, another name or another subject: written again
      await keptSbomStatement(dir, ['sha256:a', 'sha256:b'], inputs, scan, has);
      await keptSbomStatement(dir, ['sha256:a'], { ...inputs, name: 'other' }, scan, has);
      const moved = { ...inputs, subjects: [{ ...inputs.subjects[0]!, digest: `sha256:${'b'.repeat(64)}` }] };
      const third = await keptSbomStatement(dir, ['sha256:a'], moved, scan, has);
      expect(scans).toBe(4);
      expect(third.bytes?.toString()).toContain('b'.repeat(64));

      // the blob pruned: the record alone is not trusted
      stored.clear();
      const again = await keptSbomStatement(dir, ['sha256:a'], inputs, scan, has);
      expect(scans).toBe(5);
      expect(again.bytes).toEqual(first.bytes);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
