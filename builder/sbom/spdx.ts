// The SPDX 2.3 JSON document of a scan. Written here rather than through a document library: no well-kept SPDX
// 2.3 model exists for TypeScript (the CycloneDX library models CycloneDX only), and the document is small. The
// output is deterministic: packages sorted, IDs derived from content, `created` and the namespace fixed by the
// caller's time and the content, so the same image and SOURCE_DATE_EPOCH give the same bytes.
import { createHash } from 'node:crypto';
import type { FoundPackage } from './types.js';
import type { ScanResult } from './scan.js';

export { SPDX_PREDICATE } from '../../oci/index.js';

export interface SpdxOptions {
  /** What the document describes (the image's name, or `image`). */
  name: string;
  /** ISO time of the document (SOURCE_DATE_EPOCH, else now). */
  created: Date;
  /** `Tool: tsbuild-VERSION`. */
  tool: string;
}

/** A license string is used as the declared license only when it reads as an SPDX expression. */
const EXPRESSION =
  /^\(?[A-Za-z0-9.+-]+(?:\s+WITH\s+[A-Za-z0-9.+-]+)?\)?(?:\s+(?:AND|OR)\s+\(?[A-Za-z0-9.+-]+(?:\s+WITH\s+[A-Za-z0-9.+-]+)?\)?)*$/;

/** Whether a license as a database records it reads as an SPDX license expression. */
export function isSpdxExpression(license: string): boolean {
  return EXPRESSION.test(license);
}

export function spdxDocument(scan: ScanResult, opts: SpdxOptions): Record<string, unknown> {
  const pkgs = [...scan.packages].sort(comparePackages);
  // IDs by position in the sorted lists: stable for the same content, and cheap for thousands of files
  const safe = (x: string): string => x.replace(/[^a-zA-Z0-9.-]+/g, '-').slice(0, 64);
  let fileCount = 0;
  const packages: Record<string, unknown>[] = [];
  const files: Record<string, unknown>[] = [];
  const relationships: Record<string, unknown>[] = [];
  const fileIds = new Map<string, string>();
  for (const p of pkgs) {
    const id = `SPDXRef-Package-${p.kind}-${packages.length + 1}-${safe(p.name)}`;
    const declared = p.license && isSpdxExpression(p.license) ? p.license : undefined;
    packages.push({
      name: p.name,
      SPDXID: id,
      versionInfo: p.version,
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: declared ?? 'NOASSERTION',
      ...(p.license && !declared ? { licenseComments: `as recorded: ${p.license}` } : {}),
      copyrightText: 'NOASSERTION',
      sourceInfo: `${p.kind} package found in ${p.foundIn}`,
      externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: p.purl }],
    });
    relationships.push({ spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: id });
    for (const f of p.files) {
      // SPDX requires a checksum for a file: only what the database records with one is listed
      if (!f.checksum) continue;
      let fid = fileIds.get(f.path);
      if (!fid) {
        fid = `SPDXRef-File-${++fileCount}`;
        fileIds.set(f.path, fid);
        files.push({
          fileName: f.path,
          SPDXID: fid,
          checksums: [{ algorithm: f.checksum.algorithm, checksumValue: f.checksum.value }],
          licenseConcluded: 'NOASSERTION',
          copyrightText: 'NOASSERTION',
        });
      }
      relationships.push({ spdxElementId: id, relationshipType: 'CONTAINS', relatedSpdxElement: fid });
    }
  }
  const body = { packages, files, relationships };
  const digest = createHash('sha256').update(JSON.stringify(body)).digest('hex');
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: opts.name,
    // unique per content, and the same for the same content (no random part: reproducible)
    documentNamespace: `https://tsbuild.invalid/spdx/${encodeURIComponent(opts.name)}-${digest}`,
    creationInfo: { created: isoSeconds(opts.created), creators: [opts.tool] },
    ...body,
  };
}

/** RFC 3339 to the second, in UTC (`2026-12-05T04:27:08Z`), as SPDX and SLSA want it. */
export function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function comparePackages(a: FoundPackage, b: FoundPackage): number {
  const ka = `${a.kind}\0${a.name}\0${a.version}\0${a.purl}`;
  const kb = `${b.kind}\0${b.name}\0${b.version}\0${b.purl}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}
