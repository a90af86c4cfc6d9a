// Python distributions: `NAME-VER.dist-info/METADATA` (wheels, pip) and `NAME-VER.egg-info/PKG-INFO` (or an
// `.egg-info` file), wherever they are (site-packages, dist-packages). RECORD lists a wheel's files with their
// sha256 (base64url); egg-info's installed-files.txt lists paths only.
import { posix } from 'node:path';
import { purl } from './purl.js';
import type { FoundPackage, ImageTree, OwnedFile } from './types.js';
import type { WalkVisitor } from './walk.js';

const MAX_METADATA = 4 * 1024 * 1024;

export function pythonVisitor(tree: ImageTree, out: FoundPackage[]): WalkVisitor {
  return {
    dir: (path, name) => {
      if (name.endsWith('.dist-info')) {
        add(path, `${path}/METADATA`, () => recordFiles(tree, path));
        return false;
      }
      if (name.endsWith('.egg-info')) {
        add(path, `${path}/PKG-INFO`, () => []);
        return false;
      }
      return true;
    },
    file: (f) => {
      if (f.name.endsWith('.egg-info')) add(f.path, f.path, () => []);
    },
  };

  function add(where: string, metaPath: string, files: () => OwnedFile[]): void {
    const meta = tree.read(metaPath, MAX_METADATA)?.toString('utf8');
    if (!meta) return;
    // the header block ends at the first empty line (the description follows)
    const head = meta.split(/\r?\n\r?\n/)[0]!;
    const field = (k: string): string | undefined => new RegExp(`^${k}:[ \\t]*(.*)$`, 'mi').exec(head)?.[1]?.trim();
    const name = field('Name');
    const version = field('Version');
    if (!name || !version) return;
    const license = field('License-Expression') ?? field('License');
    out.push({
      kind: 'python',
      name,
      version,
      // purl-spec: the PyPI name lower-cased, `_` as `-`
      purl: purl('pypi', undefined, name.toLowerCase().replace(/[_.]+/g, '-'), version),
      ...(license && license !== 'UNKNOWN' ? { license } : {}),
      foundIn: where,
      files: files(),
    });
  }
}

/** RECORD: `path,sha256=BASE64URL,size` relative to the directory holding the .dist-info. */
function recordFiles(tree: ImageTree, distInfo: string): OwnedFile[] {
  const text = tree.read(`${distInfo}/RECORD`, MAX_METADATA)?.toString('utf8');
  if (!text) return [];
  const base = posix.dirname(distInfo);
  const files: OwnedFile[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^("?)(.+?)\1,(?:sha256=([A-Za-z0-9_-]+))?,/.exec(line);
    if (!m) continue;
    const path = posix.normalize(posix.join(base, m[2]!));
    const hex = m[3] ? Buffer.from(m[3], 'base64url').toString('hex') : undefined;
    files.push({
      path,
      ...(hex && hex.length === 64 ? { checksum: { algorithm: 'SHA256' as const, value: hex } } : {}),
    });
  }
  return files;
}
