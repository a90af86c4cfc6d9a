// libc bindings the store needs and Node lacks: extended attributes (l*xattr) and mknod for the layer codec, and a
// lazy unmount for the sweep of a dead build's views. Bound once through koffi; nothing else in store/ touches koffi.
import { closeSync, constants as fsConstants, openSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { loadKoffi } from '../oci/index.js';

export class NativeError extends Error {
  override name = 'NativeError';
  readonly code: string;
  constructor(
    readonly call: string,
    readonly errno: number,
    readonly path: string,
  ) {
    const code = errnoName(errno);
    super(`${call} ${path}: ${code}`);
    this.code = code;
  }
}

function errnoName(errno: number): string {
  for (const [k, v] of Object.entries(osConstants.errno)) if (v === errno) return k;
  return `errno ${errno}`;
}

const koffi = loadKoffi();
const lib = koffi.load('libc.so.6');
const c = {
  llistxattr: lib.func('long llistxattr(const char *path, _Out_ uint8_t *list, size_t size)'),
  flistxattr: lib.func('long flistxattr(int fd, _Out_ uint8_t *list, size_t size)'),
  fgetxattr: lib.func('long fgetxattr(int fd, const char *name, _Out_ uint8_t *value, size_t size)'),
  lgetxattr: lib.func('long lgetxattr(const char *path, const char *name, _Out_ uint8_t *value, size_t size)'),
  lsetxattr: lib.func(
    'int lsetxattr(const char *path, const char *name, const uint8_t *value, size_t size, int flags)',
  ),
  lremovexattr: lib.func('int lremovexattr(const char *path, const char *name)'),
  mknod: lib.func('int mknod(const char *path, uint32_t mode, uint64_t dev)'),
  umount2: lib.func('int umount2(const char *target, int flags)'),
  ioctl: lib.func('int ioctl(int fd, unsigned long request, _Inout_ uint8_t *arg)'),
};

const ENODATA = osConstants.errno.ENODATA;
const ERANGE = osConstants.errno.ERANGE;
const ENOTSUP = osConstants.errno.ENOTSUP ?? 95;

let listBuf = Buffer.alloc(4096);

/** Names of the extended attributes of `path` (not following a final symlink), or of an open fd. */
export function listXattrs(path: string, fd?: number): string[] {
  for (;;) {
    const n = Number(
      fd !== undefined ? c.flistxattr(fd, listBuf, listBuf.length) : c.llistxattr(path, listBuf, listBuf.length),
    );
    if (n === 0) return [];
    if (n < 0) {
      const e = koffi.errno();
      if (e === ERANGE) {
        const need = Number(fd !== undefined ? c.flistxattr(fd, null, 0) : c.llistxattr(path, null, 0));
        listBuf = Buffer.alloc(Math.max(need, listBuf.length * 2));
        continue;
      }
      if (e === ENOTSUP) return [];
      throw new NativeError('llistxattr', e, path);
    }
    const out: string[] = [];
    let start = 0;
    for (let i = 0; i < n; i++) {
      if (listBuf[i] === 0) {
        if (i > start) out.push(listBuf.toString('utf8', start, i));
        start = i + 1;
      }
    }
    return out;
  }
}

let valBuf = Buffer.alloc(4096);

/** The value of one extended attribute, or undefined when absent. */
export function getXattr(path: string, name: string): Buffer | undefined {
  for (;;) {
    const n = Number(c.lgetxattr(path, name, valBuf, valBuf.length));
    if (n >= 0) return Buffer.from(valBuf.subarray(0, n));
    const e = koffi.errno();
    if (e === ENODATA || e === ENOTSUP) return undefined;
    if (e === ERANGE) {
      const need = Number(c.lgetxattr(path, name, null, 0));
      valBuf = Buffer.alloc(Math.max(need, valBuf.length * 2));
      continue;
    }
    throw new NativeError('lgetxattr', e, path);
  }
}

export function setXattr(path: string, name: string, value: Buffer): void {
  if (Number(c.lsetxattr(path, name, value, value.length, 0)) < 0)
    throw new NativeError(`lsetxattr ${name}`, koffi.errno(), path);
}

export function removeXattr(path: string, name: string): void {
  if (Number(c.lremovexattr(path, name)) < 0) {
    const e = koffi.errno();
    if (e !== ENODATA) throw new NativeError(`lremovexattr ${name}`, e, path);
  }
}

/** All extended attributes of `path` as name → value. */
export function readXattrs(path: string): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  for (const name of listXattrs(path)) {
    const v = getXattr(path, name);
    if (v !== undefined) m.set(name, v);
  }
  return m;
}

export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;

/** glibc's makedev. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffn) << 8n) | ((ma & ~0xfffn) << 32n) | (mi & 0xffn) | ((mi & ~0xffn) << 12n);
}

export function majorOf(dev: number): number {
  return ((dev >>> 8) & 0xfff) | Number((BigInt(dev) >> 32n) & ~0xfffn);
}

export function minorOf(dev: number): number {
  return (dev & 0xff) | ((dev >>> 12) & 0xfff00);
}

export function mknod(path: string, mode: number, major = 0, minor = 0): void {
  if (Number(c.mknod(path, mode, makedev(major, minor))) < 0) throw new NativeError('mknod', koffi.errno(), path);
}

/** umount2(path, MNT_DETACH): drops a mount a dead process left under the store, whatever still uses it. */
export function unmountDetached(path: string): void {
  if (Number(c.umount2(path, 2 /* MNT_DETACH */)) < 0) throw new NativeError('umount2', koffi.errno(), path);
}

const FS_IOC_GETFLAGS = 0x80086601;
const FS_IOC_SETFLAGS = 0x40086602;
const FS_TOPDIR_FL = 0x00020000;

/**
 * Marks a directory as the top of directory hierarchies (ext4's `chattr +T`): the allocator then places each new
 * directory in it (a build's temporary tree, a step's upper directory) in a block group of its own, as it does for
 * directories at a file system's root. Why: without a journal, ext4 skips inodes freed in the last minutes when it
 * allocates, so thousands of files made just after a store or a previous tree was deleted cost 5-20x more when they
 * land among them (docs/performance.md). Best effort: another file system, or a refusal, leaves it as it was.
 */
export function markTopDir(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | fsConstants.O_NOFOLLOW);
  } catch {
    return;
  }
  try {
    const flags = Buffer.alloc(8);
    if (Number(c.ioctl(fd, FS_IOC_GETFLAGS, flags)) !== 0) return;
    const v = flags.readInt32LE(0);
    if ((v & FS_TOPDIR_FL) !== 0) return;
    flags.writeInt32LE(v | FS_TOPDIR_FL, 0);
    c.ioctl(fd, FS_IOC_SETFLAGS, flags);
  } finally {
    closeSync(fd);
  }
}
