// Copy snapshots (issue 16) at the store's level: the tree copy keeps what a layer carries (hard links, xattrs,
// owners, modes, times, symlinks, FIFOs), and the differ finds every kind of change a RUN can make — including the
// ones a size-and-mtime comparison misses — and writes them in overlay's upperdir format.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyTree } from '../../store/snapshot-copy.js';
import { diffScratch } from '../../store/snapshot-diff.js';
import { getXattr, mknod, S_IFBLK, S_IFCHR, setXattr } from '../../store/xattr.js';
import { Readable } from 'node:stream';
import { AT, utimensatNs } from '../../runtime/libc.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsbuild-snapshots-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A small tree: dirs, a hard-linked pair across directories, an xattr, a symlink, a FIFO, odd owners and modes. */
function makeBase(base: string): void {
  fs.mkdirSync(join(base, 'etc'), { recursive: true });
  fs.mkdirSync(join(base, 'bin'));
  fs.mkdirSync(join(base, 'data/sub'), { recursive: true });
  fs.writeFileSync(join(base, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
  fs.writeFileSync(join(base, 'etc/group'), 'root:x:0:\n');
  fs.writeFileSync(join(base, 'bin/busybox'), 'binary');
  fs.linkSync(join(base, 'bin/busybox'), join(base, 'etc/bb-link'));
  fs.symlinkSync('busybox', join(base, 'bin/sh'));
  execFileSync('mkfifo', [join(base, 'data/fifo')]);
  fs.writeFileSync(join(base, 'data/sub/a'), 'a');
  fs.writeFileSync(join(base, 'data/owned'), 'o');
  fs.chownSync(join(base, 'data/owned'), 1234, 5678);
  fs.chmodSync(join(base, 'data/owned'), 0o4750);
  setXattr(join(base, 'etc/passwd'), 'user.tsbuild-test', Buffer.from('v1'));
  fs.utimesSync(join(base, 'data/sub/a'), 1_000_000, 1_000_000);
}

async function tick(): Promise<void> {
  await new Promise((r) => setTimeout(r, 25));
}

function listUpper(upper: string): string[] {
  return execFileSync('find', ['.', '-mindepth', '1', '-printf', '%p %y %m %U:%G\\n'], {
    cwd: upper,
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .filter(Boolean)
    .sort();
}

describe('copyTree', () => {
  it('keeps hard links, xattrs, owners, modes, times, symlinks and FIFOs', async () => {
    const src = join(dir, 'src');
    const dst = join(dir, 'dst');
    fs.mkdirSync(src);
    fs.mkdirSync(dst);
    makeBase(src);
    const record = await copyTree(src, dst);
    const a = fs.statSync(join(dst, 'bin/busybox'));
    const b = fs.statSync(join(dst, 'etc/bb-link'));
    expect(a.ino).toBe(b.ino);
    expect(a.ino).not.toBe(fs.statSync(join(src, 'bin/busybox')).ino);
    expect(getXattr(join(dst, 'etc/passwd'), 'user.tsbuild-test')?.toString()).toBe('v1');
    const owned = fs.statSync(join(dst, 'data/owned'));
    expect([owned.uid, owned.gid, owned.mode & 0o7777]).toEqual([1234, 5678, 0o4750]);
    expect(fs.readlinkSync(join(dst, 'bin/sh'))).toBe('busybox');
    expect(fs.lstatSync(join(dst, 'data/fifo')).isFIFO()).toBe(true);
    expect(fs.statSync(join(dst, 'data/sub/a')).mtimeMs).toBe(1_000_000_000);
    expect([...record.keys()].sort()).toEqual(
      [
        '',
        'bin',
        'bin/busybox',
        'bin/sh',
        'data',
        'data/fifo',
        'data/owned',
        'data/sub',
        'data/sub/a',
        'etc',
        'etc/bb-link',
        'etc/group',
        'etc/passwd',
      ].sort(),
    );
  });
});

describe('diffScratch', () => {
  it('writes each kind of change in overlay format, and nothing for what did not change', async () => {
    const src = join(dir, 'src');
    const scratch = join(dir, 'scratch');
    const upper = join(dir, 'upper');
    for (const d of [src, scratch, upper]) fs.mkdirSync(d);
    makeBase(src);
    const record = await copyTree(src, scratch);
    await tick();
    // content rewritten with its size and mtime put back: only the ctime tells
    const a = join(scratch, 'data/sub/a');
    fs.writeFileSync(a, 'b');
    fs.utimesSync(a, 1_000_000, 1_000_000);
    // an xattr changed on a file, a whiteout, an opaque directory (rm -rf, mkdir), a new link to a base inode
    setXattr(join(scratch, 'etc/passwd'), 'user.tsbuild-test', Buffer.from('v2'));
    fs.rmSync(join(scratch, 'etc/group'));
    fs.rmSync(join(scratch, 'bin'), { recursive: true });
    fs.mkdirSync(join(scratch, 'bin'));
    fs.writeFileSync(join(scratch, 'bin/new'), 'n');
    fs.linkSync(join(scratch, 'data/owned'), join(scratch, 'owned-link'));
    const stats = diffScratch(scratch, record, upper);
    expect(listUpper(upper)).toEqual(
      [
        './bin d 755 0:0',
        './bin/new f 644 0:0',
        './data d 755 0:0',
        './data/owned f 4750 1234:5678',
        './data/sub d 755 0:0',
        './data/sub/a f 644 0:0',
        './etc d 755 0:0',
        './etc/group c 600 0:0',
        './etc/passwd f 644 0:0',
        './owned-link f 4750 1234:5678',
      ].sort(),
    );
    expect(getXattr(join(upper, 'bin'), 'trusted.overlay.opaque')?.toString()).toBe('y');
    expect(getXattr(join(upper, 'data'), 'trusted.overlay.opaque')).toBeUndefined();
    expect(fs.readFileSync(join(upper, 'data/sub/a'), 'utf8')).toBe('b');
    expect(getXattr(join(upper, 'etc/passwd'), 'user.tsbuild-test')?.toString()).toBe('v2');
    // the new link and its recorded name are one inode in the upperdir, as overlay's copy-up of the link source
    expect(fs.statSync(join(upper, 'owned-link')).ino).toBe(fs.statSync(join(upper, 'data/owned')).ino);
    // bb-link's inode lost a name (bin/busybox went with bin/): only its link count moved, so it is not copied up
    expect(fs.existsSync(join(upper, 'etc/bb-link'))).toBe(false);
    expect(stats.changes).toBeGreaterThan(0);
  });

  it('leaves out directories whose times the runtime set back, and only those', async () => {
    const src = join(dir, 'src');
    const scratch = join(dir, 'scratch');
    for (const d of [src, scratch, join(dir, 'u1'), join(dir, 'u2')]) fs.mkdirSync(d);
    makeBase(src);
    const record = await copyTree(src, scratch);
    await tick();
    // what runPlain does around a RUN that does not touch /etc: place a file, take it out, set the times back
    const etc = join(scratch, 'etc');
    const before = fs.statSync(etc, { bigint: true });
    fs.writeFileSync(join(etc, 'hosts'), '127.0.0.1 localhost\n');
    fs.rmSync(join(etc, 'hosts'));
    utimensatNs(AT.FDCWD, etc, before.atimeNs, before.mtimeNs, 0);
    expect(diffScratch(scratch, record, join(dir, 'u1'), { restored: new Set(['etc']) }).changes).toBe(0);
    expect(listUpper(join(dir, 'u1'))).toEqual([]);
    // the same directory not declared restored: its ctime moved, so it is a change
    expect(diffScratch(scratch, record, join(dir, 'u2')).changes).toBe(1);
    expect(listUpper(join(dir, 'u2'))).toEqual(['./etc d 755 0:0']);
  });
});

describe('Snapshots', () => {
  it('a layer merged from its directory gives the tree its tar applied gives', async () => {
    const { openStore, openSnapshots } = await import('../../store/index.js');
    const { walkTree } = await import('../../store/tree.js');
    const store = await openStore(join(dir, 'store'));
    try {
      const commit = async (fill: (upper: string) => void) => {
        const dirs = await store.containerDirs();
        fill(dirs.upperdir);
        const c = await store.layers.commit(dirs.upperdir);
        await dirs.release();
        return { diffID: c.diffID, descriptor: c.descriptor };
      };
      const l1 = await commit((u) => makeBase(u));
      // additions only (a COPY's layer): a directory over a base file, a file over a base symlink, a hard-linked pair
      const l2 = await commit((u) => {
        fs.mkdirSync(join(u, 'etc/group'), { recursive: true });
        fs.writeFileSync(join(u, 'etc/group/inner'), 'i');
        fs.mkdirSync(join(u, 'bin'));
        fs.writeFileSync(join(u, 'bin/sh'), 'not a link');
        fs.writeFileSync(join(u, 'pair-a'), 'p');
        fs.linkSync(join(u, 'pair-a'), join(u, 'pair-b'));
        fs.chmodSync(join(u, 'bin'), 0o700);
      });
      const viaMerge = [...walkTree(await openSnapshots(store).dir([l1, l2]))].sort();
      const linked = fs.statSync(join(store.root, 'layers', l2.diffID.slice(7), 'diff/pair-a')).nlink;
      expect(linked).toBeGreaterThan(2); // the snapshot shares the layer directory's inode
      fs.rmSync(join(store.root, 'snapshots'), { recursive: true });
      fs.rmSync(join(store.root, 'layers', l2.diffID.slice(7)), { recursive: true });
      const viaTar = [...walkTree(await openSnapshots(store).dir([l1, l2]))].sort();
      // a tar carries whole seconds; the layer directory the times its step gave (as an overlay view shows them)
      const seconds = (lines: string[]): string[] =>
        lines.map((l) =>
          l
            .split('\t')
            .map((f, i) => (i === 6 ? String(Math.floor(Number(f) / 1000)) : f))
            .join('\t'),
        );
      expect(seconds(viaMerge)).toEqual(seconds(viaTar));
      expect(viaMerge.some((l) => l.startsWith('etc/group/inner\t'))).toBe(true);
      // a layer that deletes (a whiteout) is applied from its tar: the deletion is the unpacker's to interpret
      const l3 = await commit((u) => {
        fs.mkdirSync(join(u, 'etc'));
        mknod(join(u, 'etc/passwd'), S_IFCHR | 0o600, 0, 0);
      });
      const withWhiteout = [...walkTree(await openSnapshots(store).dir([l1, l3]))];
      expect(withWhiteout.some((l) => l.startsWith('etc/passwd\t'))).toBe(false);
      expect(withWhiteout.some((l) => l.startsWith('etc/group\t'))).toBe(true);
      expect(viaMerge.find((l) => l.startsWith('bin\t'))).toContain('\t700\t');
    } finally {
      await store.close();
    }
  });
});

describe('an image layer applied onto a copy snapshot', () => {
  it('skips its character and block devices (no nodev mount would contain them) and keeps the rest', async () => {
    const src = join(dir, 'layer-src');
    fs.mkdirSync(join(src, 'dev'), { recursive: true });
    fs.writeFileSync(join(src, 'file'), 'kept');
    // a host disk's block device and a character device, as a hostile base image would carry them
    mknod(join(src, 'dev/sda'), S_IFBLK | 0o600, 8, 0);
    mknod(join(src, 'dev/mem'), S_IFCHR | 0o600, 1, 1);
    const tar = execFileSync('tar', ['-C', src, '-cf', '-', '.'], { maxBuffer: 1 << 20 });
    const dest = join(dir, 'snapshot');
    fs.mkdirSync(dest);
    const { unpackTar } = await import('../../store/layer-tar/unpack.js');
    const stats = await unpackTar(Readable.from([tar]), dest, { mode: 'apply', skipDevices: true });
    expect(stats.devicesSkipped).toBe(2);
    expect(fs.readFileSync(join(dest, 'file'), 'utf8')).toBe('kept');
    expect(fs.existsSync(join(dest, 'dev/sda'))).toBe(false);
    expect(fs.existsSync(join(dest, 'dev/mem'))).toBe(false);
  });
});
