// The overlay unpack hands small files to another thread (store/layer-tar/file-writer.ts): FileWriter's own worker
// for a tar stream (unpackTar here), HashWriter's worker while it inflates a blob of the store (unpackLayer). These
// tars go through both (offloadAfter 0: every small file; or the default, past the first files) and must give the
// tree GNU tar extracts, with the orderings that matter: hardlinks to files still queued, entries replaced later in
// the same tar, whiteouts over queued files, a directory replaced by a file, errors from the thread, aborts.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { MediaType } from '../../oci/types.js';
import { LayerError } from '../../store/errors.js';
import { openStore } from '../../store/index.js';
import { encodeHeader, END_OF_ARCHIVE, paddingFor, type TarEntryHeader } from '../../store/layer-tar/tar-header.js';
import { unpackTar, type UnpackOptions } from '../../store/layer-tar/unpack.js';
import { setXattr } from '../../store/xattr.js';
import { cleanupTemps, snapshot, tempDir } from './helpers.js';

afterAll(cleanupTemps);

type E = Partial<TarEntryHeader> & { name: string; body?: string | Buffer };

function tarOf(entries: E[], end = true): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = typeof e.body === 'string' || e.body === undefined ? Buffer.from(e.body ?? '') : e.body;
    parts.push(
      encodeHeader({
        type: 'file',
        mode: 0o644,
        uid: 0,
        gid: 0,
        mtime: 1_600_000_000,
        size: e.type && e.type !== 'file' ? 0 : body.length,
        ...e,
      }),
    );
    if (body.length > 0) parts.push(body, paddingFor(body.length));
  }
  if (end) parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

const unpack = (tar: Buffer, dest: string, opts: UnpackOptions = {}) =>
  unpackTar(Readable.from([tar]), dest, { offloadAfter: 0, ...opts });

async function fresh(name: string): Promise<string> {
  const d = join(await tempDir(), name);
  fs.mkdirSync(d);
  return d;
}

/** A tree of `dirs` × `per` small files with assorted modes, owners and mtimes, hardlinks, and a few odd files. */
function makeTree(root: string, dirs: number, per: number): void {
  for (let d = 0; d < dirs; d++) {
    const dir = join(root, `d${d}`);
    fs.mkdirSync(dir);
    for (let f = 0; f < per; f++) {
      const p = join(dir, `f${f}.js`);
      fs.writeFileSync(p, `// ${d}/${f}\n`.repeat((d * 7 + f) % 40));
      const i = d * per + f;
      if (i % 5 === 1) fs.chownSync(p, 1000 + (i % 3), 2000 + (i % 4));
      fs.chmodSync(p, [0o644, 0o755, 0o600, 0o4755, 0o2711, 0o1644, 0o444][i % 7]!); // after chown
      fs.utimesSync(p, 1_500_000_000 + i, 1_500_000_000 + i * 13);
    }
    // a hardlink to a file of this directory and one to the first directory's
    fs.linkSync(join(dir, 'f0.js'), join(dir, 'link-to-f0'));
    if (d > 0) fs.linkSync(join(root, 'd0', `f${d % per}.js`), join(dir, 'link-to-d0'));
  }
  fs.writeFileSync(join(root, 'd1', 'large.bin'), Buffer.alloc(300 << 10, 0x5a)); // past the queued-body limit
  fs.writeFileSync(join(root, 'd1', 'empty'), '');
  fs.writeFileSync(join(root, 'd2', 'xattrs'), 'x');
  setXattr(join(root, 'd2', 'xattrs'), 'user.k', Buffer.from([0, 1, 2]));
  fs.symlinkSync('f1.js', join(root, 'd3', 'sym'));
}

/** A tar of makeTree(30, 15) plus later entries replacing earlier ones, and what GNU tar extracts from it. */
async function manyFilesTar(): Promise<{ body: Buffer; want: ReturnType<typeof snapshot> }> {
  const base = await tempDir();
  const src = join(base, 'src');
  fs.mkdirSync(src);
  makeTree(src, 30, 15);
  const tar = join(base, 'layer.tar');
  execFileSync('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '-cf', tar, '-C', src, '.']);
  // later entries replacing earlier ones: a file with another body and mode, and a hardlink to the new one
  const src2 = join(base, 'src2');
  fs.mkdirSync(join(src2, 'd4'), { recursive: true });
  fs.writeFileSync(join(src2, 'd4', 'f3.js'), 'replaced\n');
  fs.chownSync(join(src2, 'd4', 'f3.js'), 33, 44);
  fs.chmodSync(join(src2, 'd4', 'f3.js'), 0o4750); // after chown: chown clears setuid
  fs.utimesSync(join(src2, 'd4', 'f3.js'), 1_234_567_890, 1_234_567_890);
  fs.linkSync(join(src2, 'd4', 'f3.js'), join(src2, 'd4', 'f3-again'));
  execFileSync('tar', ['--numeric-owner', '-rf', tar, '-C', src2, './d4/f3.js', './d4/f3-again']);

  const gnu = await fresh('gnu');
  execFileSync('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '-xpf', tar, '-C', gnu]);
  const want = snapshot(gnu, { mtimes: true });
  expect(want['d4/f3.js']!.mode).toBe('4750'); // the replacement is what GNU tar leaves
  return { body: fs.readFileSync(tar), want };
}

const many = (dir: string, n: number): E[] =>
  Array.from({ length: n }, (_, i) => ({ name: `${dir}/${i}`, body: `${dir} ${i}\n` }));
const orderingTar = (): Buffer =>
  tarOf([
    { name: 'a/', type: 'dir', mode: 0o755 },
    { name: 'a/f', body: 'first' },
    { name: 'a/h', type: 'link', linkname: 'a/f' }, // right behind its target in the queue
    ...many('a', 20),
    { name: 'a/f', body: 'second, setuid', mode: 0o4711, uid: 5, gid: 6, mtime: 1_000_000_000 },
    { name: 'a/h2', type: 'link', linkname: 'a/f' },
    { name: 'b/', type: 'dir', mode: 0o755 },
    ...many('b', 30),
    { name: 'b', body: 'b is a file now', mode: 0o600 },
    { name: 'c', body: 'c was a file' },
    { name: 'c/', type: 'dir', mode: 0o750 },
    { name: 'c/inside', body: 'in c' },
    { name: 'w/gone', body: 'whited out' },
    { name: 'w/.wh.gone', type: 'file' },
    { name: 'e/x', body: 'x' },
    { name: 'e/x', type: 'symlink', linkname: 'target' },
    ...many('z', 300),
  ]);

function checkOrdering(dest: string): void {
  expect(fs.readFileSync(join(dest, 'a/f'), 'utf8')).toBe('second, setuid');
  const f = fs.statSync(join(dest, 'a/f'));
  expect([(f.mode & 0o7777).toString(8), f.uid, f.gid, f.mtimeMs / 1000]).toEqual(['4711', 5, 6, 1_000_000_000]);
  // h was linked to the first a/f, h2 to the second
  expect(fs.readFileSync(join(dest, 'a/h'), 'utf8')).toBe('first');
  expect(fs.statSync(join(dest, 'a/h2')).ino).toBe(f.ino);
  expect(fs.statSync(join(dest, 'a/h')).nlink).toBe(1);
  expect(fs.readFileSync(join(dest, 'a/19'), 'utf8')).toBe('a 19\n');
  expect(fs.readFileSync(join(dest, 'b'), 'utf8')).toBe('b is a file now');
  expect(fs.statSync(join(dest, 'b')).mode & 0o7777).toBe(0o600);
  expect(fs.statSync(join(dest, 'c')).isDirectory()).toBe(true);
  expect(fs.readFileSync(join(dest, 'c/inside'), 'utf8')).toBe('in c');
  const wh = fs.lstatSync(join(dest, 'w/gone'));
  expect([wh.isCharacterDevice(), wh.rdev]).toEqual([true, 0]);
  expect(fs.readlinkSync(join(dest, 'e/x'))).toBe('target');
  expect(fs.readFileSync(join(dest, 'z/299'), 'utf8')).toBe('z 299\n');
  expect(fs.readdirSync(dest).sort()).toEqual(['a', 'b', 'c', 'e', 'w', 'z']);
}

describe('the overlay unpack with the file writer thread', () => {
  it('unpacks a layer of many small files as GNU tar does: contents, modes (setuid too), owners, mtimes, hardlinks, replaced entries', async () => {
    const { body, want } = await manyFilesTar();
    for (const offloadAfter of [0, 32]) {
      const dest = await fresh(`ours-${offloadAfter}`);
      const stats = await unpack(body, dest, { offloadAfter, record: true });
      expect(snapshot(dest, { mtimes: true })).toEqual(want);
      // the thread wrote the small files past the first offloadAfter, but not the one with an xattr nor large.bin
      // (and not those the main thread wrote itself while the ring was full)
      expect(stats.offloaded).toBeGreaterThan(0);
      expect(stats.offloaded).toBeLessThanOrEqual(30 * 15 + 2 - offloadAfter);
      // the tree record comes from the headers either way
      const inline = await fresh(`inline-${offloadAfter}`);
      const ref = await unpack(body, inline, { offloadAfter: Infinity, record: true });
      expect(ref.offloaded).toBe(0);
      expect(stats.tree).toEqual(ref.tree);
    }
  });

  it('keeps the order that matters: hardlinks to queued files, replacements, whiteouts, a directory replaced by a file', async () => {
    const dest = await fresh('dest');
    const stats = await unpack(orderingTar(), dest);
    expect(stats.offloaded).toBeGreaterThan(40);
    checkOrdering(dest);
  });

  it('waits for a queued file before a later entry treats it as a directory', async () => {
    const dest = await fresh('dest');
    const tar = tarOf([
      ...Array.from({ length: 10 }, (_, i) => ({ name: `n${i}`, body: 'n' })),
      { name: 'p', body: 'a file' },
      { name: 'p/q', body: 'under a file' },
    ]);
    await expect(unpack(tar, dest)).rejects.toThrow(/"p" is not a directory/);
    expect(fs.readFileSync(join(dest, 'p'), 'utf8')).toBe('a file');
  });

  it('reports a file the thread cannot create as a LayerError naming the entry, and stays usable', async () => {
    const dest = await fresh('dest');
    const long = `dir/${'n'.repeat(300)}`; // a name longer than NAME_MAX: only open() finds out
    const tar = tarOf([
      ...Array.from({ length: 20 }, (_, i) => ({ name: `dir/${i}`, body: 'ok' })),
      { name: long, body: 'too long' },
      ...Array.from({ length: 20 }, (_, i) => ({ name: `dir/later${i}`, body: 'ok' })),
    ]);
    const err = await unpack(tar, dest, { digest: 'sha256:abc' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LayerError);
    expect((err as LayerError).message).toMatch(/ENAMETOOLONG/);
    expect((err as LayerError).message).toContain(long);
    expect((err as LayerError).info).toMatchObject({ path: long, digest: 'sha256:abc' });
    // the session ended: the next unpack gets the thread
    const again = await fresh('again');
    const stats = await unpack(
      tarOf(Array.from({ length: 50 }, (_, i) => ({ name: `g/${i}`, body: String(i) }))),
      again,
    );
    expect(stats.offloaded).toBe(50);
    expect(fs.readFileSync(join(again, 'g/49'), 'utf8')).toBe('49');
  });

  it('stops the thread when the tar breaks off: nothing is written after the unpack fails', async () => {
    const dest = await fresh('dest');
    const whole = tarOf(
      Array.from({ length: 400 }, (_, i) => ({ name: `t/${i}`, body: Buffer.alloc(3000, i) })),
      false,
    );
    const cut = whole.subarray(0, whole.length - 2000); // in the middle of the last body
    await expect(unpack(cut, dest)).rejects.toThrow(/ends in the middle/);
    const n = fs.readdirSync(join(dest, 't')).length;
    await new Promise((r) => setTimeout(r, 50));
    expect(fs.readdirSync(join(dest, 't')).length).toBe(n);
    expect(n).toBeLessThan(400);
    const again = await fresh('again');
    const stats = await unpack(whole, again); // no end-of-archive marker: accepted
    expect(stats.offloaded).toBeGreaterThan(0);
    expect(fs.readdirSync(join(again, 't')).length).toBe(400);
    expect(fs.readFileSync(join(again, 't/399'))).toEqual(Buffer.alloc(3000, 399));
  });

  it('leaves small layers to the main thread, and two unpacks at once both finish', async () => {
    const small = tarOf(Array.from({ length: 10 }, (_, i) => ({ name: `s/${i}`, body: 'small' })));
    expect((await unpackTar(Readable.from([small]), await fresh('small'))).offloaded).toBe(0);
    const big = tarOf(
      Array.from({ length: 300 }, (_, i) => ({
        name: `m/${i % 10}/${i}`,
        body: `body ${i}`,
        mode: 0o640,
        uid: i,
        gid: i + 1,
      })),
    );
    const [d1, d2] = [await fresh('one'), await fresh('two')];
    const [s1, s2] = await Promise.all([unpackTar(Readable.from([big]), d1), unpackTar(Readable.from([big]), d2)]);
    expect(snapshot(d1, { mtimes: true })).toEqual(snapshot(d2, { mtimes: true }));
    expect(fs.statSync(join(d2, 'm/9/299')).uid).toBe(299);
    // one of them had the thread; the other wrote everything itself
    expect([s1.offloaded, s2.offloaded].filter((n) => n > 0)).toHaveLength(1);
  });

  it("through the store: HashWriter's thread writes queued files while it inflates the blob, in the same order", async () => {
    const s = await openStore(await tempDir());
    try {
      const put = (tar: Buffer) => s.blobs.putBytes(gzipSync(tar), MediaType.OciLayerGzip);
      const { body, want } = await manyFilesTar();
      const { dir } = await s.layers.unpack(await put(body));
      expect(snapshot(dir, { mtimes: true })).toEqual(want);
      checkOrdering((await s.layers.unpack(await put(orderingTar()))).dir);
      // a failure on that thread names the entry; the next unpack gets the ring again
      const long = `dir/${'n'.repeat(300)}`;
      const bad = tarOf([...many('dir', 40), { name: long, body: 'too long' }, ...many('later', 40)]);
      const err = await s.layers.unpack(await put(bad)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LayerError);
      expect((err as LayerError).message).toMatch(/ENAMETOOLONG/);
      expect((err as LayerError).message).toContain(long);
      const again = await s.layers.unpack(await put(tarOf(many('g', 200))));
      expect(fs.readFileSync(join(again.dir, 'g/199'), 'utf8')).toBe('g 199\n');
    } finally {
      await s.close();
    }
  });
});
