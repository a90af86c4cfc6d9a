// `tsbuild store verify`: re-hash every blob, check every unpacked layer against its tree record, check that tags
// and images point at blobs that exist. Returns the problems found (each naming the digest or path).
import { createReadStream, existsSync } from 'node:fs';
import { readdir, readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DigestingStream } from '../../oci/digest.js';
import type { Digest } from '../../oci/types.js';
import type { Store } from '../api.js';
import { walkTree } from '../layers.js';
import { readIndexFile } from '../layout.js';
import { resolveImage } from '../resolve.js';
import { BlobStore } from '../blobs.js';
import { LazyBlobs } from '../lazy.js';

export interface VerifyReport {
  blobs: number;
  layers: number;
  /** Layers images name that are recorded with their source but not downloaded (fetched on first read): not a problem. */
  lazy: number;
  problems: string[];
}

export async function verifyStore(store: Store): Promise<VerifyReport> {
  const root = store.root;
  const report: VerifyReport = { blobs: 0, layers: 0, lazy: 0, problems: [] };
  const lazy = new LazyBlobs(root);
  const lazySeen = new Set<string>();
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
    if (h.digest() !== `sha256:${hex}`) report.problems.push(`blob sha256:${hex} is corrupt: its content hashes to ${h.digest()} (${path})`);
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
      if (target !== (await realpath(join(dir, 'diff')).catch(() => ''))) report.problems.push(`unpacked layer ${diffID}: l/${id} does not lead to ${dir}/diff`);
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
      report.problems.push(`unpacked layer ${diffID} differs from what was unpacked: ${paths.slice(0, 5).join(', ')}${paths.length > 5 ? ` and ${paths.length - 5} more` : ''}`);
    }
  }
  const blobs = new BlobStore(root);
  for (const m of (await readIndexFile(root)).manifests) {
    const name = m.annotations?.['org.opencontainers.image.ref.name'] ?? m.digest;
    if (!(await blobs.has(m.digest))) {
      report.problems.push(`${name} points at missing blob ${m.digest}`);
      continue;
    }
    const rec = await resolveImage(root, blobs, m.digest).catch(() => undefined);
    if (!rec) continue;
    for (const l of rec.manifest.layers) {
      if (await blobs.has(l.digest as Digest)) continue;
      if (await lazy.get(l.digest as Digest)) {
        if (!lazySeen.has(l.digest)) report.lazy++;
        lazySeen.add(l.digest);
      } else report.problems.push(`${name}: layer blob ${l.digest} is missing`);
    }
  }
  return report;
}
