// Every libc call the runtime makes, bound once through koffi. Nothing else in runtime/ touches koffi.
import { arch } from 'node:os';
import { constants as osConstants } from 'node:os';
import { TsbuildError, loadKoffi } from '../oci/index.js';
import { unsupportedArch } from './errors.js';

/**
 * A failed libc call: which call, on what, and errno as a name, which is its `code` (ENOENT, EPERM…) as in Node's own
 * errors, so callers match `e.code === 'ENOENT'` either way.
 */
export class LibcError extends TsbuildError {
  override name = 'LibcError';
  constructor(
    readonly call: string,
    readonly errno: number,
    readonly target?: string,
  ) {
    const code = errnoName(errno);
    super(code, `${call}${target ? ` ${target}` : ''}: ${code}`, { hint: libcHint(call, code, target) });
  }
}

/** What to do about a failed call, by errno: the few that mean something about the host, else where to look. */
export function libcHint(call: string, code: string, target?: string): string {
  switch (code) {
    case 'EPERM':
    case 'EACCES':
      return `${call} was refused: RUN steps need root with its capabilities (namespaces, mounts); run tsbuild as root, in a container started with --privileged`;
    case 'ENOSYS':
      return `this kernel (or a seccomp filter around tsbuild) does not have ${call}: RUN steps need Linux 5.12 or later, outside a restrictive seccomp profile`;
    case 'ENOSPC':
      return `free space on the filesystem of ${target ?? 'the store'} (df -h), or delete unused data with \`tsbuild prune\``;
    case 'EMFILE':
    case 'ENFILE':
      return 'too many open files: raise the limit (ulimit -n) or build with fewer parallel steps';
    default:
      return `see \`man 2 ${call.split(' ')[0]}\` for ${code}${target ? ` (on ${target})` : ''}; --debug prints where it failed`;
  }
}

function errnoName(errno: number): string {
  for (const [k, v] of Object.entries(osConstants.errno)) if (v === errno) return k;
  return `errno ${errno}`;
}

const koffi = loadKoffi();

const lib = koffi.load('libc.so.6');

const c = {
  mount: lib.func(
    'int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)',
  ),
  umount2: lib.func('int umount2(const char *target, int flags)'),
  flock: lib.func('int flock(int fd, int operation)'),
  unshare: lib.func('int unshare(int flags)'),
  setns: lib.func('int setns(int fd, int nstype)'),
  sethostname: lib.func('int sethostname(const char *name, size_t len)'),
  socket: lib.func('int socket(int domain, int type, int protocol)'),
  ioctl: lib.func('int ioctl(int fd, unsigned long request, _Inout_ uint8_t *arg)'),
  close: lib.func('int close(int fd)'),
  chdir: lib.func('int chdir(const char *path)'),
  prctl: lib.func('int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)'),
  capset: lib.func('int capset(_Inout_ uint32_t *hdr, const uint32_t *data)'),
  setgroups: lib.func('int setgroups(size_t size, const uint32_t *list)'),
  setresuid: lib.func('int setresuid(uint32_t r, uint32_t e, uint32_t s)'),
  setresgid: lib.func('int setresgid(uint32_t r, uint32_t e, uint32_t s)'),
  umask: lib.func('uint32_t umask(uint32_t mask)'),
  fcntl: lib.func('int fcntl(int fd, int cmd, ...)'),
  execvpe: lib.func('int execvpe(const char *file, const char **argv, const char **envp)'),
  syscall: lib.func('long syscall(long number, ...)'),
  gettid: lib.func('int gettid(void)'),
  prlimit: lib.func('int prlimit(int pid, int resource, const uint64_t *newLimit, _Out_ uint64_t *oldLimit)'),
  fsopen: lib.func('int fsopen(const char *fsname, unsigned int flags)'),
  fsconfig: lib.func('int fsconfig(int fd, unsigned int cmd, const char *key, const char *value, int aux)'),
  fsmount: lib.func('int fsmount(int fd, unsigned int flags, unsigned int attrFlags)'),
  moveMount: lib.func(
    'int move_mount(int fromDirfd, const char *fromPath, int toDirfd, const char *toPath, unsigned int flags)',
  ),
  openTree: lib.func('int open_tree(int dirfd, const char *path, unsigned int flags)'),
  mountSetattr: lib.func(
    'int mount_setattr(int dirfd, const char *path, unsigned int flags, const uint64_t *attr, size_t size)',
  ),
};

function check(call: string, rc: number | bigint, target?: string): void {
  if (Number(rc) < 0) throw new LibcError(call, koffi.errno(), target);
}

export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  REMOUNT: 0x20,
  BIND: 0x1000,
  MOVE: 0x2000,
  REC: 0x4000,
  PRIVATE: 1 << 18,
  STRICTATIME: 1 << 24,
} as const;

export const MNT_DETACH = 2;
export const MOUNT_ATTR = { RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8 } as const;
export const CLONE = {
  NEWNS: 0x20000,
  NEWUTS: 0x4000000,
  NEWIPC: 0x8000000,
  NEWNET: 0x40000000,
  NEWPID: 0x20000000,
} as const;

export function mount(
  source: string | null,
  target: string,
  fstype: string | null,
  flags: number,
  data: string | null = null,
): void {
  check('mount', c.mount(source, target, fstype, flags, data), target);
}

/**
 * Mounts a filesystem through the new mount API (fsopen/fsconfig/fsmount/move_mount): each option is passed on its
 * own, so no page limit applies (overlay's `lowerdir+`, Linux 6.8+).
 */
export function mountFs(fstype: string, target: string, options: [string, string | null][], attrFlags = 0): void {
  const fd = c.fsopen(fstype, 1 /* FSOPEN_CLOEXEC */) as number;
  check('fsopen', fd, fstype);
  try {
    // a null value is a flag (overlay's `userxattr`)
    for (const [k, v] of options)
      check(
        `fsconfig ${k}`,
        c.fsconfig(fd, v === null ? 0 /* FSCONFIG_SET_FLAG */ : 1 /* FSCONFIG_SET_STRING */, k, v, 0) as number,
        v ?? k,
      );
    check('fsconfig create', c.fsconfig(fd, 6 /* FSCONFIG_CMD_CREATE */, null, null, 0) as number, target);
    const mfd = c.fsmount(fd, 1 /* FSMOUNT_CLOEXEC */, attrFlags) as number;
    check('fsmount', mfd, target);
    try {
      check(
        'move_mount',
        c.moveMount(mfd, '', -100 /* AT_FDCWD */, target, 4 /* MOVE_MOUNT_F_EMPTY_PATH */) as number,
        target,
      );
    } finally {
      c.close(mfd);
    }
  } finally {
    c.close(fd);
  }
}

/**
 * Binds the tree at `sourceFd` onto `targetFd` (both O_PATH fds), recursively, with MOUNT_ATTR_* `attrs` set on every
 * mount of the copy: open_tree(OPEN_TREE_CLONE) + mount_setattr + move_mount walk no path at all, so nothing can be
 * swapped in between (runc's CVE-2021-30465), and the attributes land on the new mount, not on what is under it.
 */
export function bindMountFd(sourceFd: number, targetFd: number, attrs: number): void {
  const OPEN_TREE_CLONE = 1;
  const AT_RECURSIVE = 0x8000;
  const tree = c.openTree(sourceFd, '', OPEN_TREE_CLONE | O.CLOEXEC | AT.EMPTY_PATH | AT_RECURSIVE) as number;
  check('open_tree', tree, `fd ${sourceFd}`);
  try {
    if (attrs !== 0) {
      const attr = new BigUint64Array([BigInt(attrs), 0n, 0n, 0n]);
      check('mount_setattr', c.mountSetattr(tree, '', AT.EMPTY_PATH | AT_RECURSIVE, attr, 32) as number);
    }
    // MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH
    check('move_mount', c.moveMount(tree, '', targetFd, '', 0x4 | 0x40) as number, `fd ${targetFd}`);
  } finally {
    c.close(tree);
  }
}

export function umount2(target: string, flags: number): void {
  check('umount2', c.umount2(target, flags), target);
}

export const LOCK = { SH: 1, EX: 2, NB: 4, UN: 8 } as const;

/** flock(2) on an open file; false when `LOCK.NB` was given and the lock is held elsewhere. */
export function flock(fd: number, operation: number, target?: string): boolean {
  if (c.flock(fd, operation) === 0) return true;
  const errno = koffi.errno();
  if (errno === osConstants.errno.EWOULDBLOCK) return false;
  throw new LibcError('flock', errno, target);
}

/** Detaches the namespaces in `flags` for the calling thread only (UTS, IPC and NET work in a threaded process). */
export function unshare(flags: number): void {
  check('unshare', c.unshare(flags));
}

export function setns(fd: number, nstype: number): void {
  check('setns', c.setns(fd, nstype));
}

export function sethostname(name: string): void {
  check('sethostname', c.sethostname(name, Buffer.byteLength(name)), name);
}

export function chdir(path: string): void {
  check('chdir', c.chdir(path), path);
}

/** Sets IFF_UP on an interface of the calling thread's network namespace (SIOCGIFFLAGS/SIOCSIFFLAGS). */
export function interfaceUp(name: string): void {
  const fd = c.socket(2 /* AF_INET */, 2 /* SOCK_DGRAM */ | 0o2000000 /* SOCK_CLOEXEC */, 0);
  check('socket', fd);
  try {
    const ifr = Buffer.alloc(40);
    ifr.write(name, 0, 15, 'ascii');
    check('ioctl SIOCGIFFLAGS', c.ioctl(fd, 0x8913, ifr), name);
    const flags = ifr.readUInt16LE(16) | 0x1; /* IFF_UP */
    ifr.writeUInt16LE(flags, 16);
    check('ioctl SIOCSIFFLAGS', c.ioctl(fd, 0x8914, ifr), name);
  } finally {
    c.close(fd);
  }
}

export const PR = {
  SET_PDEATHSIG: 1,
  SET_KEEPCAPS: 8,
  CAPBSET_READ: 23,
  CAPBSET_DROP: 24,
  SET_NO_NEW_PRIVS: 38,
  CAP_AMBIENT: 47,
} as const;

export function prctl(option: number, a2 = 0, a3 = 0, a4 = 0, a5 = 0): number {
  const rc = c.prctl(option, a2, a3, a4, a5) as number;
  check(`prctl(${option})`, rc);
  return rc;
}

/** Sets the calling thread's effective/permitted/inheritable capability sets (64-bit masks as bigint). */
export function capset(effective: bigint, permitted: bigint, inheritable: bigint): void {
  const hdr = new Uint32Array([0x20080522 /* _LINUX_CAPABILITY_VERSION_3 */, 0]);
  const lo = (v: bigint): number => Number(v & 0xffffffffn);
  const hi = (v: bigint): number => Number((v >> 32n) & 0xffffffffn);
  const data = new Uint32Array([
    lo(effective),
    lo(permitted),
    lo(inheritable),
    hi(effective),
    hi(permitted),
    hi(inheritable),
  ]);
  check('capset', c.capset(hdr, data));
}

export function setgroups(gids: number[]): void {
  check('setgroups', c.setgroups(gids.length, new Uint32Array(gids)));
}

export function setresgid(gid: number): void {
  check('setresgid', c.setresgid(gid, gid, gid), String(gid));
}

export function setresuid(uid: number): void {
  check('setresuid', c.setresuid(uid, uid, uid), String(uid));
}

export function umask(mask: number): number {
  return c.umask(mask) as number;
}

/** Clears FD_CLOEXEC on `fd` (Node opens 0-2 close-on-exec). */
export function clearCloexec(fd: number): void {
  const F_GETFD = 1;
  const F_SETFD = 2;
  const flags = c.fcntl(fd, F_GETFD) as number;
  check('fcntl F_GETFD', flags);
  check('fcntl F_SETFD', c.fcntl(fd, F_SETFD, 'int', flags & ~1) as number);
}

/** execvpe(3): searches PATH from `env` when `file` has no slash; returns only on failure. */
export function execvpe(file: string, argv: string[], env: string[]): never {
  c.execvpe(file, [...argv, null], [...env, null]);
  throw new LibcError('execvpe', koffi.errno(), file);
}

const SYS_PIVOT_ROOT: Record<string, number> = { x64: 155, arm64: 41 };

export function pivotRoot(newRoot: string, putOld: string): void {
  const nr = SYS_PIVOT_ROOT[arch()];
  if (nr === undefined) throw unsupportedArch('pivot_root', arch());
  check('pivot_root', c.syscall(nr, 'const char *', newRoot, 'const char *', putOld) as number, newRoot);
}

/** Sets RLIMIT_NOFILE of the calling process to soft = hard = min(value, current hard limit). */
export function limitOpenFiles(value: number): void {
  const RLIMIT_NOFILE = 7;
  const old = new BigUint64Array(2);
  check('prlimit', c.prlimit(0, RLIMIT_NOFILE, null, old) as number);
  const hard = BigInt(value) < old[1]! ? BigInt(value) : old[1]!;
  check('prlimit', c.prlimit(0, RLIMIT_NOFILE, new BigUint64Array([hard, hard]), null) as number);
}

export function gettid(): number {
  return c.gettid() as number;
}

// --- Directory-fd calls: every host-side operation on a path an untrusted input chose goes through these (see
// runtime/root-fd.ts). Each returns or takes raw fds; Node's fs.*Sync functions accept them too (fstat, fchown…).
const at = {
  openat: lib.func('int openat(int dirfd, const char *path, int flags, uint32_t mode)'),
  mkdirat: lib.func('int mkdirat(int dirfd, const char *path, uint32_t mode)'),
  unlinkat: lib.func('int unlinkat(int dirfd, const char *path, int flags)'),
  symlinkat: lib.func('int symlinkat(const char *target, int dirfd, const char *path)'),
  linkat: lib.func('int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags)'),
  fchownat: lib.func('int fchownat(int dirfd, const char *path, uint32_t uid, uint32_t gid, int flags)'),
  readlinkat: lib.func('long readlinkat(int dirfd, const char *path, _Out_ uint8_t *buf, size_t size)'),
  utimensat: lib.func('int utimensat(int dirfd, const char *path, const int64_t *times, int flags)'),
  closeRange: lib.func('int close_range(unsigned int first, unsigned int last, int flags)'),
  mknodat: lib.func('int mknodat(int dirfd, const char *path, uint32_t mode, uint64_t dev)'),
};

export const AT = { FDCWD: -100, SYMLINK_NOFOLLOW: 0x100, REMOVEDIR: 0x200, EMPTY_PATH: 0x1000 } as const;
/** openat2(2) `resolve` flags. */
export const RESOLVE = { NO_XDEV: 0x1, NO_MAGICLINKS: 0x2, NO_SYMLINKS: 0x4, BENEATH: 0x8, IN_ROOT: 0x10 } as const;
export const O = {
  RDONLY: 0,
  WRONLY: 1,
  RDWR: 2,
  CREAT: 0o100,
  EXCL: 0o200,
  NOCTTY: 0o400,
  TRUNC: 0o1000,
  NONBLOCK: 0o4000,
  DIRECTORY: 0o200000,
  NOFOLLOW: 0o400000,
  CLOEXEC: 0o2000000,
  PATH: 0o10000000,
} as const;

const SYS_OPENAT2: Record<string, number> = { x64: 437, arm64: 437 };
/**
 * syscall(2) with openat2's arguments as a fixed prototype: koffi builds a variadic call anew each time (≈ 1.7 µs
 * more per call, and a COPY of a context opens every file twice). On x86-64 and arm64 Linux a variadic callee
 * takes integer arguments from the same registers, and glibc's syscall() only moves them into place.
 */
const syscallOpenat2 = lib.func('long syscall(long nr, int dirfd, const char *path, uint64_t *how, size_t size)');

/** openat2(2): `how` = {flags, mode, resolve}; always O_CLOEXEC. */
export function openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number {
  const nr = SYS_OPENAT2[arch()];
  if (nr === undefined) throw unsupportedArch('openat2', arch());
  const how = new BigUint64Array([BigInt(flags | O.CLOEXEC), BigInt(mode), BigInt(resolve)]);
  const fd = Number(syscallOpenat2(nr, dirfd, path, how, 24));
  check('openat2', fd, path);
  return fd;
}

export function openat(dirfd: number, path: string, flags: number, mode = 0): number {
  const fd = at.openat(dirfd, path, flags | O.CLOEXEC, mode) as number;
  check('openat', fd, path);
  return fd;
}

export function mkdirat(dirfd: number, path: string, mode: number): void {
  check('mkdirat', at.mkdirat(dirfd, path, mode) as number, path);
}

/** mkdirat(2) that returns the errno (0: made) instead of throwing: for a caller that expects some to fail. */
export function tryMkdirat(dirfd: number, path: string, mode: number): number {
  return (at.mkdirat(dirfd, path, mode) as number) < 0 ? koffi.errno() : 0;
}

export function unlinkat(dirfd: number, path: string, flags = 0): void {
  check('unlinkat', at.unlinkat(dirfd, path, flags) as number, path);
}

export function symlinkat(target: string, dirfd: number, path: string): void {
  check('symlinkat', at.symlinkat(target, dirfd, path) as number, path);
}

export function linkat(olddirfd: number, oldpath: string, newdirfd: number, newpath: string, flags = 0): void {
  check('linkat', at.linkat(olddirfd, oldpath, newdirfd, newpath, flags) as number, newpath);
}

export function fchownat(dirfd: number, path: string, uid: number, gid: number, flags: number): void {
  check('fchownat', at.fchownat(dirfd, path, uid, gid, flags) as number, path);
}

export function readlinkat(dirfd: number, path: string): string {
  const buf = Buffer.alloc(4096);
  const n = Number(at.readlinkat(dirfd, path, buf, buf.length));
  check('readlinkat', n, path);
  return buf.subarray(0, n).toString('utf8');
}

/** utimensat(2) with times in ms since the epoch (atime, mtime); AT.SYMLINK_NOFOLLOW to touch a symlink itself. */
export function utimensat(dirfd: number, path: string, atimeMs: number, mtimeMs: number, flags: number): void {
  const ts = (ms: number): [bigint, bigint] => {
    const s = Math.floor(ms / 1000);
    return [BigInt(s), BigInt(Math.round((ms - s * 1000) * 1e6))];
  };
  const times = new BigInt64Array([...ts(atimeMs), ...ts(mtimeMs)]);
  check('utimensat', at.utimensat(dirfd, path, times, flags) as number, path);
}

/** mknodat(2) of a character or block device `major:minor` (glibc's makedev), or a FIFO. */
export function mknodat(dirfd: number, path: string, mode: number, major: number, minor: number): void {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  const dev = ((ma & 0xfffn) << 8n) | ((ma & ~0xfffn) << 32n) | (mi & 0xffn) | ((mi & ~0xffn) << 12n);
  check('mknodat', at.mknodat(dirfd, path, mode, dev) as number, path);
}

/** utimensat(2) with exact times in nanoseconds since the epoch (atime, mtime). */
export function utimensatNs(dirfd: number, path: string, atimeNs: bigint, mtimeNs: bigint, flags: number): void {
  const G = 1_000_000_000n;
  const times = new BigInt64Array([atimeNs / G, atimeNs % G, mtimeNs / G, mtimeNs % G]);
  check('utimensat', at.utimensat(dirfd, path, times, flags) as number, path);
}

export const CLOSE_RANGE = { UNSHARE: 0x2, CLOEXEC: 0x4 } as const;

/** close_range(2): with CLOSE_RANGE.CLOEXEC, marks the fds close-on-exec instead of closing them. */
export function closeRange(first: number, last: number, flags: number): void {
  check('close_range', at.closeRange(first, last, flags) as number);
}

export function closeFd(fd: number): void {
  c.close(fd);
}

// --- keyring, fds and seccomp: the last steps of a container's start (pivot isolation) ---

const SYS_KEYCTL: Record<string, number> = { x64: 250, arm64: 219 };
const SYS_SECCOMP: Record<string, number> = { x64: 317, arm64: 277 };

function syscallNumber(table: Record<string, number>, name: string): number {
  const nr = table[arch()];
  if (nr === undefined) throw unsupportedArch(name, arch());
  return nr;
}

/** KEYCTL_JOIN_SESSION_KEYRING with no name: a fresh anonymous session keyring, so no key of the host's is in reach. */
export function joinSessionKeyring(): number {
  const id = c.syscall(
    syscallNumber(SYS_KEYCTL, 'keyctl'),
    'long',
    1 /* KEYCTL_JOIN_SESSION_KEYRING */,
    'const char *',
    null,
  ) as number;
  check('keyctl(JOIN_SESSION_KEYRING)', id);
  return Number(id);
}

/** close_range(first, ~0, CLOSE_RANGE_CLOEXEC): every fd from `first` up closes at the next exec. */
export function cloexecFrom(first: number): void {
  closeRange(first, 0xffffffff, CLOSE_RANGE.CLOEXEC);
}

const sockFprog = koffi.struct('tsbuild_sock_fprog', { len: 'uint16_t', filter: 'uint8_t *' });

/** seccomp(SECCOMP_SET_MODE_FILTER) with `filter` (struct sock_filter[]); needs no_new_privs (or CAP_SYS_ADMIN). */
export function setSeccompFilter(filter: Buffer): void {
  const prog = { len: filter.length / 8, filter };
  const rc = c.syscall(
    syscallNumber(SYS_SECCOMP, 'seccomp'),
    'unsigned int',
    1 /* SECCOMP_SET_MODE_FILTER */,
    'unsigned int',
    0,
    koffi.pointer(sockFprog),
    prog,
  ) as number;
  check('seccomp(SET_MODE_FILTER)', rc);
}
