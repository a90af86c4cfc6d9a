// A stage's scan, remembered by its layer chain: the same layers are the same files, so a rebuild whose every step
// was cached (or another image on the same layers) takes the packages from here instead of mounting a view and
// walking the image again. The record names SCAN_REVISION: a change to the scanners gives new records, never an old
// one's answer (scan-cache.test.ts fails until the revision is raised when the scanners' sources change).
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ScanResult } from './scan.js';

export const SCAN_REVISION = 3;

/** The digest of the scanners' sources SCAN_REVISION was set for (scan-cache.test.ts computes it). */
export const SCANNER_SOURCES = 'd35fe22239e85909089a0a7a51a77435a4db8e186733880eed2a51e63af19b2f';

export function scanKey(diffIDs: readonly string[]): string {
  return createHash('sha256')
    .update(JSON.stringify([SCAN_REVISION, diffIDs]))
    .digest('hex');
}

/** The scan of the tree of `diffIDs` (lowest first): from `dir` when it was made before, else `scan()`, kept there. */
export async function cachedScan(
  dir: string,
  diffIDs: readonly string[],
  scan: () => Promise<ScanResult>,
): Promise<ScanResult> {
  const file = join(dir, `${scanKey(diffIDs)}.json`);
  try {
    const rec = JSON.parse(await readFile(file, 'utf8')) as { revision?: unknown; result?: ScanResult };
    if (rec.revision === SCAN_REVISION && rec.result && Array.isArray(rec.result.packages)) return rec.result;
  } catch {
    /* not made yet, or torn: scan */
  }
  const result = await scan();
  await keepScan(dir, diffIDs, result);
  return result;
}

/**
 * Keeps `result` as the scan of the tree of `diffIDs` (best effort: a scan not kept is made again). The record
 * names its layers: prune removes it with the top one (store/ops/gc.ts).
 */
export async function keepScan(dir: string, diffIDs: readonly string[], result: ScanResult): Promise<void> {
  const file = join(dir, `${scanKey(diffIDs)}.json`);
  const tmp = `${file}.${process.pid}.tmp`;
  await mkdir(dir, { recursive: true })
    .then(() => writeFile(tmp, JSON.stringify({ revision: SCAN_REVISION, layers: diffIDs, result })))
    .then(() => rename(tmp, file))
    .catch(() => rm(tmp, { force: true }));
}
