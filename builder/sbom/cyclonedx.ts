// The CycloneDX 1.6 JSON document of a scan (`--attest type=sbom,format=cyclonedx`), modelled and serialized with
// OWASP's @cyclonedx/cyclonedx-library (its models and JSON normalizer, loaded only for this format). Each package is
// a component (name, version, purl, license as the database records it, where it was found) with the files its
// database lists as nested `file` components. Deterministic: the library sorts every list, the serial number is
// derived from the content and the timestamp is the caller's (SOURCE_DATE_EPOCH, else now).
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { ScanResult } from './scan.js';
import type { FoundPackage } from './types.js';
import { isSpdxExpression } from './spdx.js';

export { CYCLONEDX_PREDICATE } from '../../oci/index.js';

export interface CycloneDxOptions {
  /** What the document describes (the image's name, or `image`). */
  name: string;
  /** The document's time (SOURCE_DATE_EPOCH, else now). */
  created: Date;
  /** tsbuild's version, named as the tool. */
  toolVersion: string;
}

export function cyclonedxDocument(scan: ScanResult, opts: CycloneDxOptions): Record<string, unknown> {
  // required at run time, not bundled (as the zstd packages): the library's optional plug-ins (XML, validators)
  // require packages tsbuild does not ship, which it then goes without
  const CDX = createRequire(import.meta.url)(
    '@cyclonedx/cyclonedx-library',
  ) as typeof import('@cyclonedx/cyclonedx-library');
  const { Models, Enums } = CDX;
  const bom = new Models.Bom();
  bom.metadata.timestamp = opts.created;
  // every component gets its bom-ref from the content: the serializer makes random ones for those without
  const refs = new Set<string>();
  const ref = (want: string): string => {
    let r = want;
    for (let n = 2; refs.has(r); n++) r = `${want}#${n}`;
    refs.add(r);
    return r;
  };
  bom.metadata.component = new Models.Component(Enums.ComponentType.Container, opts.name, { bomRef: ref('image') });
  bom.metadata.tools.components.add(
    new Models.Component(Enums.ComponentType.Application, 'tsbuild', {
      version: opts.toolVersion,
      bomRef: ref('tool:tsbuild'),
    }),
  );
  const hashAlgorithm = {
    MD5: Enums.HashAlgorithm.MD5,
    SHA1: Enums.HashAlgorithm['SHA-1'],
    SHA256: Enums.HashAlgorithm['SHA-256'],
  } as const;
  for (const p of scan.packages) {
    const pref = ref(p.purl);
    const c = new Models.Component(Enums.ComponentType.Library, p.name, {
      version: p.version,
      purl: p.purl,
      bomRef: pref,
    });
    // an SPDX id as itself, an expression as one, anything else by its name
    if (p.license)
      c.licenses.add(
        CDX.SPDX.isSupportedSpdxId(p.license)
          ? new Models.SpdxLicense(p.license)
          : isSpdxExpression(p.license)
            ? new Models.LicenseExpression(p.license)
            : new Models.NamedLicense(p.license),
      );
    c.properties.add(new Models.Property('tsbuild:package:kind', p.kind));
    c.properties.add(new Models.Property('tsbuild:package:found-in', p.foundIn));
    if (p.arch) c.properties.add(new Models.Property('tsbuild:package:arch', p.arch));
    for (const f of p.files) {
      const file = new Models.Component(Enums.ComponentType.File, f.path, { bomRef: ref(`${pref}:${f.path}`) });
      if (f.checksum) file.hashes.set(hashAlgorithm[f.checksum.algorithm], f.checksum.value);
      c.components.add(file);
    }
    bom.components.add(c);
  }
  bom.serialNumber = `urn:uuid:${uuidOf(scan.packages, opts)}`;
  const serializer = new CDX.Serialize.JsonSerializer(new CDX.Serialize.JSON.Normalize.Factory(CDX.Spec.Spec1dot6));
  return JSON.parse(serializer.serialize(bom, { sortLists: true })) as Record<string, unknown>;
}

/** A version-4-shaped UUID from the content: the same image and time give the same serial number. */
function uuidOf(packages: FoundPackage[], opts: CycloneDxOptions): string {
  const h = createHash('sha256')
    .update(JSON.stringify([opts.name, opts.created.toISOString(), packages.map((p) => [p.purl, p.foundIn])]))
    .digest('hex');
  const v = `4${h.slice(13, 16)}`;
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16) + h.slice(17, 20);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${v}-${variant}-${h.slice(20, 32)}`;
}
