// The SBOM statement of a stage, kept: the same layer chain, format, name, time and subjects give the same bytes,
// so a rebuild of the same image takes the statement blob the store holds (a small record names it) instead of
// reading the kept scan and writing an SPDX or CycloneDX document of thousands of files again. The record names
// STATEMENT_REVISION: a change to the document writers gives new records (sbom-statement.test.ts fails until the
// revision is raised when their sources change).
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { CYCLONEDX_PREDICATE, cyclonedxDocument } from './cyclonedx.js';
import { statementOf, type Statement } from './attest-manifest.js';
import { inTotoStatement } from './provenance.js';
import type { ScanResult } from './scan.js';
import { scanKey } from './scan-cache.js';
import { SPDX_PREDICATE, spdxDocument } from './spdx.js';
import type { Digest } from '../../oci/index.js';

export const STATEMENT_REVISION = 1;

/** The digest of the document writers' sources STATEMENT_REVISION was set for (sbom-statement.test.ts computes it). */
export const STATEMENT_SOURCES = 'a1db6808f6484d04e17d38570b5618f3f8f66e5890c761ccdffe5638c625a925';

export interface SbomInputs {
  format: 'spdx' | 'cyclonedx';
  /** What the document describes. */
  name: string;
  created: Date;
  toolVersion: string;
  /** The statement's subjects: the image's names and its manifest digest. */
  subjects: { name: string; digest: string }[];
}

/** The statement's bytes. */
function inTotoBytes(
  predicateType: string,
  subjects: readonly { name: string; digest: string }[],
  predicate: unknown,
): Buffer {
  return Buffer.from(JSON.stringify(inTotoStatement(predicateType, subjects, predicate)));
}

/** The statement of one document, written from the scan. */
export function sbomStatement(scanned: ScanResult, inputs: SbomInputs): Statement {
  const { name, created, toolVersion, subjects } = inputs;
  if (inputs.format === 'cyclonedx') {
    return statementOf(
      CYCLONEDX_PREDICATE,
      inTotoBytes(CYCLONEDX_PREDICATE, subjects, cyclonedxDocument(scanned, { name, created, toolVersion })),
    );
  }
  return statementOf(
    SPDX_PREDICATE,
    inTotoBytes(
      SPDX_PREDICATE,
      subjects,
      spdxDocument(scanned, { name, created, tool: `Tool: tsbuild-${toolVersion}` }),
    ),
  );
}

/** What decides the statement's bytes: the layers (through their scan's key) and the document's inputs. */
function statementKey(diffIDs: readonly string[], inputs: SbomInputs): string {
  return createHash('sha256')
    .update(
      JSON.stringify([
        STATEMENT_REVISION,
        scanKey(diffIDs),
        inputs.format,
        inputs.format === 'cyclonedx' ? cyclonedxLibraryVersion() : '',
        inputs.name,
        inputs.created.toISOString(),
        inputs.toolVersion,
        inputs.subjects,
      ]),
    )
    .digest('hex');
}

/** The CycloneDX library's version: its serializer shapes the document. */
function cyclonedxLibraryVersion(): string {
  try {
    const req = createRequire(import.meta.url);
    return (req('@cyclonedx/cyclonedx-library/package.json') as { version?: string }).version ?? '';
  } catch {
    return '';
  }
}

/**
 * The SBOM statement of the tree of `diffIDs` (lowest first): the one kept in `dir` when the store still holds its
 * blob (`has` leases it), else written from `scan()` and kept (with its bytes, for the caller to store).
 */
export async function keptSbomStatement(
  dir: string,
  diffIDs: readonly string[],
  inputs: SbomInputs,
  scan: () => Promise<ScanResult>,
  has: (digest: Digest) => Promise<boolean>,
): Promise<Statement> {
  const file = join(dir, `${statementKey(diffIDs, inputs)}.statement.json`);
  try {
    const rec = JSON.parse(await readFile(file, 'utf8')) as Partial<Statement> & { revision?: unknown };
    if (
      rec.revision === STATEMENT_REVISION &&
      typeof rec.predicateType === 'string' &&
      typeof rec.digest === 'string' &&
      /^sha256:[0-9a-f]{64}$/.test(rec.digest) &&
      typeof rec.size === 'number' &&
      (await has(rec.digest as Digest))
    )
      return { predicateType: rec.predicateType, digest: rec.digest as Digest, size: rec.size };
  } catch {
    /* not made yet, or torn: write it */
  }
  const st = sbomStatement(await scan(), inputs);
  const tmp = `${file}.${process.pid}.tmp`;
  const rec = { revision: STATEMENT_REVISION, predicateType: st.predicateType, digest: st.digest, size: st.size };
  await mkdir(dir, { recursive: true })
    .then(() => writeFile(tmp, JSON.stringify(rec)))
    .then(() => rename(tmp, file))
    .catch(() => rm(tmp, { force: true }));
  return st;
}
