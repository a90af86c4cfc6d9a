// `tsbuild store verify`: re-hash every blob, check every unpacked layer against its tree record, check index.json
// against its last good copy, and follow every reference from every tag down to every blob (index → manifests,
// manifest → config + layers): each must be in the store, or recorded as lazy (present, fetched on first read).
// Returns the problems found (each naming the digest or path, and the tag that reaches it).
import { createReadStream, existsSync } from 'node:fs';
import { readdir, readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DigestingStream } from '../../oci/index.js';
import type { Descriptor } from '../../oci/index.js';
import type { Store } from '../api.js';
import { walkTree } from '../layers.js';
import { INDEX_BACKUP, inspectIndexFile, REF_NAME } from '../layout.js';
import { BlobStore } from '../blobs.js';
import { LazyBlobs } from '../lazy.js';

export interface VerifyReport {
  blobs: number;
  layers: number;
  /**
   * Layers images name that are recorded with their source but not downloaded (fetched on first read): not a problem.
   */
  lazy: number;
  problems: string[];
}

export async function verifyStore(store: Store): Promise<VerifyReport> {
  // A corrupt blob is reported once, where it is hashed; the reference walk does not parse it again.
  const corrupt = new Set<string>();
  const root = store.root;
  const report: VerifyReport = { blobs: 0, layers: 0, lazy: 0, problems: [] };
  const lazy = new LazyBlobs(root);
  for (const hex of await readdir(join(root, 'blobs', 'sha256')).catch(() => [] as string[])) {
    report.blobs++;
    const path = join(root, 'blobs', 'sha256', hex);
    if (!/^[a-f0-9]{64}$/.test(hex)) {
      report.problems.push(`stray file in blobs/sha256: ${path}`);
      continue;
    }
    const h = new DigestingStream();
    await pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), h, async (src: AsyncIterable<Buffer>) => {
      for await (const _ of src) void _;
    });
    if (h.digest() !== `sha256:${hex}`) {
      report.problems.push(`blob sha256:${hex} is corrupt: its content hashes to ${h.digest()} (${path})`);
      corrupt.add(`sha256:${hex}`);
    }
  }
  for (const name of await readdir(join(root, 'layers')).catch(() => [] as string[])) {
    if (!/^[a-f0-9]{64}$/.test(name)) continue;
    report.layers++;
    const dir = join(root, 'layers', name);
    const diffID = `sha256:${name}`;
    const id = (await readFile(join(dir, 'link'), 'utf8').catch(() => '')).trim();
    if (!id) report.problems.push(`unpacked layer ${diffID} has no short link (${dir}/link)`);
    else {
      const target = await realpath(join(root, 'l', id)).catch(() => undefined);
      if (target !== (await realpath(join(dir, 'diff')).catch(() => '')))
        report.problems.push(`unpacked layer ${diffID}: l/${id} does not lead to ${dir}/diff`);
    }
    const recorded = await readFile(join(dir, 'tree'), 'utf8').catch(() => undefined);
    if (recorded === undefined || !existsSync(join(dir, 'diff'))) {
      report.problems.push(`unpacked layer ${diffID} is incomplete (${dir})`);
      continue;
    }
    const want = recorded.split('\n').filter(Boolean);
    const got = [...walkTree(join(dir, 'diff'))].sort();
    const wantSet = new Set(want);
    const gotSet = new Set(got);
    const changed: string[] = [];
    for (const l of got) if (!wantSet.has(l)) changed.push(l.split('\t')[0]!);
    for (const l of want) if (!gotSet.has(l)) changed.push(l.split('\t')[0]!);
    if (changed.length > 0) {
      const paths = [...new Set(changed)];
      report.problems.push(
        `unpacked layer ${diffID} differs from what was unpacked: ${paths.slice(0, 5).join(', ')}${paths.length > 5 ? ` and ${paths.length - 5} more` : ''}`,
      );
    }
  }
  await verifyReferences(root, report, lazy, corrupt);
  return report;
}

/** Follows every tag's references; each problem names the tag and the path of references down to the blob. */
async function verifyReferences(
  root: string,
  report: VerifyReport,
  lazy: LazyBlobs,
  corrupt: Set<string>,
): Promise<void> {
  const blobs = new BlobStore(root);
  const { state, backup } = await inspectIndexFile(root);
  let manifests: Descriptor[];
  if ('damage' in state) {
    const b = await backup();
    report.problems.push(
      `tag index ${join(root, 'index.json')} is damaged: ${state.damage}; ` +
        (b
          ? `the next command restores its last good copy (${INDEX_BACKUP}, ${b.manifests.length} tag(s), checked below)`
          : `there is no last good copy (${INDEX_BACKUP}): move it aside to start with no tags`),
    );
    // what the restore would bring back is checked too
    manifests = b?.manifests ?? [];
  } else manifests = state.index.manifests;
  const lazySeen = new Set<string>();
  const checked = new Set<string>();
  /** true when the blob is here (or lazy); a problem is reported once per blob. */
  const present = async (d: Descriptor, via: string, what: string): Promise<'here' | 'lazy' | 'missing'> => {
    if (await blobs.has(d.digest)) return 'here';
    if (await lazy.get(d.digest)) {
      if (what === 'layer' && !lazySeen.has(d.digest)) report.lazy++;
      lazySeen.add(d.digest);
      return 'lazy';
    }
    if (!checked.has(`missing ${d.digest}`))
      report.problems.push(`${via}: ${what} blob ${d.digest} is missing (${blobs.path(d.digest)})`);
    checked.add(`missing ${d.digest}`);
    return 'missing';
  };
  const visit = async (d: Descriptor, via: string, depth: number): Promise<void> => {
    if (depth > 4 || checked.has(d.digest)) return;
    checked.add(d.digest);
    if ((await present(d, via, depth === 0 ? 'manifest' : 'child manifest')) !== 'here' || corrupt.has(d.digest))
      return;
    let json: { manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] };
    try {
      json = JSON.parse((await blobs.read(d.digest)).toString('utf8')) as typeof json;
    } catch {
      report.problems.push(`${via}: manifest ${d.digest} is not readable JSON (${blobs.path(d.digest)})`);
      return;
    }
    if (Array.isArray(json.manifests)) {
      // A pull keeps the platforms it was asked for: an index naming others not in the store is normal; one with
      // none of its manifests here has lost what its tag promised.
      const here = [];
      for (const m of json.manifests) if ((await blobs.has(m.digest)) || (await lazy.get(m.digest))) here.push(m);
      if (here.length === 0 && json.manifests.length > 0)
        report.problems.push(
          `${via}: none of the ${json.manifests.length} manifests index ${d.digest} names is in the store`,
        );
      for (const m of here) await visit(m, `${via} → ${m.digest.slice(7, 19)}`, depth + 1);
      return;
    }
    // a tag may name any JSON blob (the Store API allows it): only what it references is checked
    if (
      json.config?.digest &&
      (await present(json.config, via, 'config')) === 'here' &&
      !corrupt.has(json.config.digest)
    ) {
      try {
        JSON.parse((await blobs.read(json.config.digest)).toString('utf8'));
      } catch {
        report.problems.push(`${via}: config ${json.config.digest} is not readable JSON`);
      }
    }
    for (const l of Array.isArray(json.layers) ? json.layers : []) {
      if ((await present(l, via, 'layer')) !== 'here') continue;
      const size = await blobs.size(l.digest);
      if (size !== l.size)
        report.problems.push(`${via}: layer blob ${l.digest} holds ${size} bytes, the manifest says ${l.size}`);
    }
  };
  for (const m of manifests) await visit(m, m.annotations?.[REF_NAME] ?? m.digest, 0);
}
