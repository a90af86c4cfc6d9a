// `prune --keep-storage SIZE` and `--filter until=DURATION` through the real CLI: images untagged least recently
// used first (use, not creation, orders them), an image a live process leases never taken, times read from the
// store's used/ records (written here to set them without sleeping), and unknown filter keys refused by name.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTemps, tempDir, tsbuild } from './helpers.js';

afterAll(cleanupTemps);

const KB = 1024;

/** A rootfs tar holding `size` random (incompressible) bytes: each image takes about that much in the store. */
function rootfsTar(base: string, name: string, size: number): string {
  const dir = join(base, `rootfs-${name}`);
  fs.mkdirSync(join(dir, 'data'), { recursive: true });
  fs.writeFileSync(join(dir, 'data', name), randomBytes(size));
  const f = `${dir}.tar`;
  execFileSync('tar', ['-C', dir, '-cf', f, '.']);
  return f;
}

function ok(r: { code: number; stdout: string; stderr: string }, what: string): string {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

function names(root: string): string[] {
  const rows = JSON.parse(ok(tsbuild(root, ['images', '--json']), 'images')) as { name: string }[];
  return rows.map((r) => r.name).sort();
}

function digests(root: string): Record<string, string> {
  const rows = JSON.parse(ok(tsbuild(root, ['images', '--json']), 'images')) as { name: string; digest: string }[];
  return Object.fromEntries(rows.map((r) => [r.name, r.digest]));
}

const usedFiles = (root: string): string[] => fs.readdirSync(join(root, 'used')).filter((n) => n.endsWith('.auto'));

interface PruneJson {
  images: { name: string; digest: string; lastUsed: string }[];
  blobs: number;
}

const lib = (n: string): string => `docker.io/library/${n}`;

describe('prune bounds', () => {
  it('--keep-storage untags the least recently used images first, never one a live process holds', async () => {
    const base = await tempDir();
    const root = join(base, 'store');
    for (const n of ['a', 'b', 'c']) ok(tsbuild(root, ['import', rootfsTar(base, n, 300 * KB), `${n}:1`]), n);
    const d = digests(root);
    // looking records no use; a save uses the image: one rename into used/ naming its manifest
    const before = usedFiles(root);
    names(root);
    expect(usedFiles(root)).toEqual(before);
    ok(tsbuild(root, ['save', 'a:1', '-o', join(base, 'a.tar')]), 'save a');
    const fresh = usedFiles(root).filter((n) => !before.includes(n));
    expect(fresh).toHaveLength(1);
    expect(fs.readFileSync(join(root, 'used', fresh[0]!), 'utf8').split('\n')).toContain(d[lib('a:1')]);

    // used: b, then c, then a (a last, though imported first). Each takes ~310KB, a twice that (save made its gzip
    // twin): 1.25MB in all, room for a and one other
    const p = JSON.parse(ok(tsbuild(root, ['prune', '--json', '--keep-storage', '1100KB']), 'prune')) as PruneJson;
    expect(p.images.map((i) => i.name)).toEqual([lib('b:1')]);
    expect(p.blobs).toBeGreaterThan(0);
    expect(names(root)).toEqual([lib('a:1'), lib('c:1')]);
    expect(fs.existsSync(join(root, 'blobs/sha256', d[lib('b:1')]!.slice(7)))).toBe(false);

    // a, though least recently used now that c was saved, is leased by a live process (this one): c goes instead
    ok(tsbuild(root, ['save', 'c:1', '-o', join(base, 'c.tar')]), 'save c');
    const lease = join(root, 'leases', `${process.pid}-0123456789ab.lease`);
    fs.writeFileSync(lease, `${d[lib('a:1')]}\n`);
    try {
      const q = JSON.parse(ok(tsbuild(root, ['prune', '--json', '--keep-storage', '1']), 'prune')) as PruneJson;
      expect(q.images.map((i) => i.name)).toEqual([lib('c:1')]);
      expect(names(root)).toEqual([lib('a:1')]);
    } finally {
      fs.rmSync(lease);
    }
    // a store within its bound loses nothing
    const r = tsbuild(root, ['prune', '--keep-storage', '10GB']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('Untagged');
    expect(names(root)).toEqual([lib('a:1')]);
  });

  it('--filter until= untags only images unused for longer than the duration', async () => {
    const base = await tempDir();
    const root = join(base, 'store');
    for (const n of ['x', 'y', 'z']) ok(tsbuild(root, ['import', rootfsTar(base, n, 10 * KB), `${n}:1`]), n);
    const d = digests(root);
    // last used 48h, 2h and 10 minutes ago, as prune's merged record says
    for (const f of usedFiles(root)) fs.rmSync(join(root, 'used', f));
    const now = Date.now();
    const ago = { x: 48 * 3600_000, y: 2 * 3600_000, z: 10 * 60_000 };
    fs.writeFileSync(
      join(root, 'used', 'last-used'),
      Object.entries(ago)
        .map(([n, ms]) => `${d[lib(`${n}:1`)]} ${now - ms}\n`)
        .join(''),
    );
    const p = JSON.parse(ok(tsbuild(root, ['prune', '--json', '--filter', 'until=24h']), 'prune')) as PruneJson;
    expect(p.images.map((i) => [i.name, i.lastUsed])).toEqual([[lib('x:1'), new Date(now - ago.x).toISOString()]]);
    expect(names(root)).toEqual([lib('y:1'), lib('z:1')]);
    expect(fs.existsSync(join(root, 'blobs/sha256', d[lib('x:1')]!.slice(7)))).toBe(false);
    // the merged record keeps the times of what stayed
    expect(fs.readFileSync(join(root, 'used', 'last-used'), 'utf8')).not.toContain(d[lib('x:1')]);

    const q = tsbuild(root, ['prune', '--filter', 'until=1h30m']);
    expect(q.code).toBe(0);
    expect(q.stdout).toContain(`Untagged: ${lib('y:1')}`);
    expect(names(root)).toEqual([lib('z:1')]);
  });

  it('refuses unknown filter keys and malformed values by name (exit 2)', async () => {
    const root = join(await tempDir(), 'store');
    const cases: [string[], RegExp][] = [
      [['--filter', 'type=regular'], /--filter type is not supported/],
      [['--filter', 'until=1d'], /until="1d" is not a duration/],
      [['--keep-storage', 'lots'], /--keep-storage "lots" is not a size/],
    ];
    for (const [args, msg] of cases) {
      const r = tsbuild(root, ['prune', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(msg);
    }
  });
});
