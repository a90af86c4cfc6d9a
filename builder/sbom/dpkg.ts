// Debian/Ubuntu packages from dpkg's database: /var/lib/dpkg/status (one paragraph per package), and
// /var/lib/dpkg/status.d/ (distroless: one file per package). Files and their MD5s from info/PKG[:ARCH].md5sums.
// The same set `dpkg-query -W` prints: every package whose
// status is not `not-installed`.
import { controlParagraphs } from './deb-fields.js';
import { purl } from './purl.js';
import type { Distro, FoundPackage, ImageTree, OwnedFile } from './types.js';

const STATUS = '/var/lib/dpkg/status';
const STATUS_D = '/var/lib/dpkg/status.d';
const INFO = '/var/lib/dpkg/info';

export function scanDpkg(tree: ImageTree, distro: Distro | undefined): FoundPackage[] {
  const found: FoundPackage[] = [];
  const status = tree.read(STATUS);
  if (status) for (const p of controlParagraphs(status.toString('utf8'))) add(p, STATUS);
  for (const e of tree.list(STATUS_D) ?? []) {
    // distroless keeps NAME (the paragraph) and NAME.md5sums side by side
    if (e.kind !== 'file' || e.name.endsWith('.md5sums')) continue;
    const text = tree.read(`${STATUS_D}/${e.name}`);
    if (text) for (const p of controlParagraphs(text.toString('utf8'))) add(p, `${STATUS_D}/${e.name}`);
  }
  return found;

  function add(p: Map<string, string>, foundIn: string): void {
    const name = p.get('Package');
    const version = p.get('Version');
    if (!name || !version) return;
    const state = (p.get('Status') ?? 'install ok installed').split(/\s+/)[2];
    if (state === 'not-installed') return;
    const arch = p.get('Architecture');
    const source = p.get('Source')?.split(/\s+/)[0];
    found.push({
      kind: 'deb',
      name,
      version,
      ...(arch ? { arch } : {}),
      purl: purl('deb', distro?.id ?? 'debian', name, version, {
        arch,
        distro: distro?.versionId ? `${distro.id}-${distro.versionId}` : undefined,
        upstream: source && source !== name ? source : undefined,
      }),
      foundIn,
      files: ownedFiles(tree, name, arch, foundIn),
    });
  }
}

/** The regular files dpkg records with a checksum (the `.list` adds only directories and conffiles to them). */
function ownedFiles(tree: ImageTree, name: string, arch: string | undefined, foundIn: string): OwnedFile[] {
  const bases = foundIn.startsWith(STATUS_D)
    ? [`${STATUS_D}/${name}`]
    : [`${INFO}/${name}:${arch ?? ''}`, `${INFO}/${name}`];
  for (const base of bases) {
    const sums = tree.read(`${base}.md5sums`);
    if (!sums) continue;
    const files: OwnedFile[] = [];
    for (const line of sums.toString('utf8').split('\n')) {
      const m = /^([0-9a-f]{32}) {2}(.+)$/.exec(line);
      if (m) files.push({ path: `/${m[2]!}`, checksum: { algorithm: 'MD5', value: m[1]! } });
    }
    return files;
  }
  return [];
}

/** ID and VERSION_ID of /etc/os-release (or /usr/lib/os-release). */
export function readDistro(tree: ImageTree): Distro | undefined {
  const text = (tree.read('/etc/os-release', 1 << 16) ?? tree.read('/usr/lib/os-release', 1 << 16))?.toString('utf8');
  if (!text) return undefined;
  const field = (k: string): string | undefined => {
    const m = new RegExp(`^${k}=(.*)$`, 'm').exec(text);
    return m ? m[1]!.trim().replace(/^["']|["']$/g, '') : undefined;
  };
  const id = field('ID');
  if (!id) return undefined;
  const versionId = field('VERSION_ID');
  return { id, ...(versionId ? { versionId } : {}) };
}
