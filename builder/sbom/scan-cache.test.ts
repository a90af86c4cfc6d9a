import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cachedScan, SCAN_REVISION, SCANNER_SOURCES } from './scan-cache.js';

/** What the scan reads and decides with: every source of this directory but the document writers and this cache. */
const NOT_SCANNERS = new Set([
  'attest-manifest.ts',
  'cyclonedx.ts',
  'provenance.ts',
  'sbom-statement.ts',
  'spdx.ts',
  'scan-cache.ts',
]);

describe('cachedScan', () => {
  it('is keyed to the scanners it was made with', async () => {
    const here = dirname(fileURLToPath(import.meta.url));
    const names = (await readdir(here))
      .filter((n) => n.endsWith('.ts') && !n.endsWith('.test.ts') && !NOT_SCANNERS.has(n))
      .sort();
    const h = createHash('sha256');
    for (const n of names)
      h.update(`${n}\0`)
        .update(await readFile(join(here, n)))
        .update('\0');
    const digest = h.digest('hex');
    expect(
      digest,
      `the SBOM scanners changed: raise SCAN_REVISION (now ${SCAN_REVISION}) in scan-cache.ts, so no scan cached by the old ones is used, and set SCANNER_SOURCES to ${digest}`,
    ).toBe(SCANNER_SOURCES);
  });

  it('scans once per layer chain, and again for another chain', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tsbuild-scan-cache-'));
    try {
      let scans = 0;
      const scan = (): Promise<{ packages: never[] }> => {
        scans++;
        return Promise.resolve({ packages: [] });
      };
      await cachedScan(dir, ['sha256:a'], scan);
      await cachedScan(dir, ['sha256:a'], scan);
      expect(scans).toBe(1);
      await cachedScan(dir, ['sha256:a', 'sha256:b'], scan);
      expect(scans).toBe(2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
