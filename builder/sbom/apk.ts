// Alpine packages from apk's database, /lib/apk/db/installed: one paragraph per package of `K:value` lines
// (P name, V version, A arch, L license, F a directory, R a file in it, Z its checksum: `Q1` + base64 SHA-1).
import { purl } from './purl.js';
import type { Distro, FoundPackage, ImageTree, OwnedFile } from './types.js';

const INSTALLED = '/lib/apk/db/installed';

export function scanApk(tree: ImageTree, distro: Distro | undefined): FoundPackage[] {
  const text = tree.read(INSTALLED)?.toString('utf8');
  if (!text) return [];
  const found: FoundPackage[] = [];
  let cur: { p?: string; v?: string; a?: string; l?: string; o?: string; files: OwnedFile[] } = { files: [] };
  let dir = '';
  const flush = (): void => {
    if (cur.p && cur.v) {
      found.push({
        kind: 'apk',
        name: cur.p,
        version: cur.v,
        ...(cur.a ? { arch: cur.a } : {}),
        ...(cur.l ? { license: cur.l } : {}),
        purl: purl('apk', distro?.id ?? 'alpine', cur.p, cur.v, {
          arch: cur.a,
          distro: distro?.versionId ? `${distro.id}-${distro.versionId}` : undefined,
          upstream: cur.o && cur.o !== cur.p ? cur.o : undefined,
        }),
        foundIn: INSTALLED,
        files: cur.files,
      });
    }
    cur = { files: [] };
    dir = '';
  };
  for (const line of text.split('\n')) {
    if (line === '') {
      flush();
      continue;
    }
    const k = line[0];
    const v = line.slice(2);
    if (line[1] !== ':') continue;
    if (k === 'P') cur.p = v;
    else if (k === 'V') cur.v = v;
    else if (k === 'A') cur.a = v;
    else if (k === 'L') cur.l = v;
    else if (k === 'o') cur.o = v;
    else if (k === 'F') dir = v;
    else if (k === 'R') cur.files.push({ path: `/${dir ? `${dir}/` : ''}${v}` });
    else if (k === 'Z' && v.startsWith('Q1') && cur.files.length > 0) {
      const sha1 = Buffer.from(v.slice(2), 'base64').toString('hex');
      if (sha1.length === 40) cur.files[cur.files.length - 1]!.checksum = { algorithm: 'SHA1', value: sha1 };
    }
  }
  flush();
  return found;
}
