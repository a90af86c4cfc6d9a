// Helpers for the store tests: temp dirs, a tree with every entry type, and a tree snapshot to compare trees by
// what matters (type, mode, owner, size, content hash, link target, device numbers, xattrs, hardlink groups).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readXattrs, setXattr, mknod, S_IFCHR, S_IFBLK } from '../../store/xattr.js';

// the CLI as users run it (bin/tsbuild runs the bundle)
export const MAIN = fileURLToPath(new URL('../../bin/tsbuild', import.meta.url));

const temps: string[] = [];
export async function tempDir(prefix = 'tsbuild-store-test-'): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  temps.push(d);
  return d;
}

export async function cleanupTemps(): Promise<void> {
  for (const d of temps.splice(0)) await rm(d, { recursive: true, force: true });
}

export function tsbuild(root: string, args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, '--root', root, ...args], { encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function sh(cmd: string, cwd?: string): string {
  return execFileSync('sh', ['-c', cmd], { encoding: 'utf8', ...(cwd ? { cwd } : {}) });
}

/** A tree with every entry type a layer carries. */
export function makeRichTree(dir: string): void {
  const p = (s: string): string => join(dir, s);
  fs.mkdirSync(p('etc/deep/er'), { recursive: true });
  fs.writeFileSync(p('etc/hosts'), '127.0.0.1 localhost\n');
  fs.writeFileSync(p('etc/deep/er/data.bin'), Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 251)));
  fs.writeFileSync(p('big'), Buffer.alloc(3 << 20, 0x61)); // larger than the small-file threshold
  fs.writeFileSync(p('empty'), '');
  fs.writeFileSync(p('suid'), '#!/bin/sh\n');
  fs.chmodSync(p('suid'), 0o4755);
  fs.writeFileSync(p('sgid-sticky'), 'x');
  fs.chmodSync(p('sgid-sticky'), 0o3710);
  fs.writeFileSync(p('owned'), 'owned by 1234:5678');
  fs.chownSync(p('owned'), 1234, 5678);
  fs.mkdirSync(p('tmp'));
  fs.chmodSync(p('tmp'), 0o1777);
  fs.mkdirSync(p('private'));
  fs.chmodSync(p('private'), 0o700);
  fs.chownSync(p('private'), 65534, 65534);
  fs.symlinkSync('hosts', p('etc/hosts.link'));
  fs.symlinkSync('/nonexistent/absolute', p('dangling'));
  fs.lchownSync(p('dangling'), 42, 43);
  fs.linkSync(p('etc/hosts'), p('hardlink-to-hosts'));
  fs.linkSync(p('etc/hosts'), p('etc/deep/second-hardlink'));
  mknod(p('null'), S_IFCHR | 0o666, 1, 3);
  mknod(p('loop9'), S_IFBLK | 0o660, 7, 9);
  execFileSync('mkfifo', ['-m', '0640', p('fifo')]);
  const long = `${'d'.repeat(90)}/${'e'.repeat(90)}/${'f'.repeat(120)}.txt`;
  fs.mkdirSync(join(dir, long, '..'), { recursive: true });
  fs.writeFileSync(join(dir, long), 'long name');
  fs.symlinkSync('t'.repeat(150), p('long-link-target'));
  fs.writeFileSync(p('ünïcødé-名前'), 'unicode');
  fs.writeFileSync(p('xattrs'), 'with xattrs');
  setXattr(p('xattrs'), 'user.text', Buffer.from('hello'));
  setXattr(p('xattrs'), 'user.binary', Buffer.from([0x00, 0xff, 0x80, 0xc3, 0x28, 0x0a]));
  execFileSync('setcap', ['cap_net_raw,cap_net_admin+ep', p('suid')]);
  fs.chmodSync(p('suid'), 0o4755); // setcap keeps the mode, but be explicit
  fs.utimesSync(p('etc/hosts'), new Date(1_000_000_000_000), new Date(1_000_000_000_000));
  fs.utimesSync(p('etc'), new Date(1_200_000_000_000), new Date(1_200_000_000_000));
}

export interface EntrySnapshot {
  type: string;
  mode: string;
  owner: string;
  size?: number;
  sha256?: string;
  link?: string;
  rdev?: string;
  xattrs?: Record<string, string>;
  mtime?: number;
  hardlinkGroup?: string;
}

/** A comparable picture of a tree. `overlayXattrs` keeps trusted.overlay.* (else they are left out). */
export function snapshot(
  dir: string,
  opts: { mtimes?: boolean; overlayXattrs?: boolean } = {},
): Record<string, EntrySnapshot> {
  const out: Record<string, EntrySnapshot> = {};
  const inodes = new Map<string, string>();
  const walk = (rel: string): void => {
    for (const name of fs.readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const abs = join(dir, r);
      const st = fs.lstatSync(abs);
      const type = st.isDirectory()
        ? 'dir'
        : st.isFile()
          ? 'file'
          : st.isSymbolicLink()
            ? 'symlink'
            : st.isCharacterDevice()
              ? 'char'
              : st.isBlockDevice()
                ? 'block'
                : st.isFIFO()
                  ? 'fifo'
                  : 'other';
      const e: EntrySnapshot = { type, mode: (st.mode & 0o7777).toString(8), owner: `${st.uid}:${st.gid}` };
      if (type === 'file') {
        e.size = st.size;
        e.sha256 = createHash('sha256').update(fs.readFileSync(abs)).digest('hex');
        if (st.nlink > 1) {
          const key = `${st.dev}:${st.ino}`;
          if (!inodes.has(key)) inodes.set(key, r);
          e.hardlinkGroup = inodes.get(key)!;
        }
      }
      if (type === 'symlink') e.link = fs.readlinkSync(abs);
      if (type === 'char' || type === 'block') e.rdev = String(st.rdev);
      const xs = readXattrs(abs);
      const xo: Record<string, string> = {};
      for (const [k, v] of [...xs].sort())
        if (opts.overlayXattrs || !k.startsWith('trusted.overlay.')) xo[k] = v.toString('hex');
      if (Object.keys(xo).length > 0) e.xattrs = xo;
      if (opts.mtimes && type !== 'dir') e.mtime = Math.floor(st.mtimeMs / 1000);
      out[r] = e;
      if (type === 'dir') walk(r);
    }
  };
  walk('');
  return out;
}

export function isMounted(path: string): boolean {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === path);
}
