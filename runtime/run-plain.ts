// runPlain: a RUN step in a plain directory tree (copy snapshots, issue 16), for environments where no namespace
// and no mount can be made (an unprivileged container: no CAP_SYS_ADMIN, a default seccomp profile). What the
// overlay runtime binds in is placed as files instead, and taken out again before the tree is diffed:
//   /etc/hosts, /etc/resolv.conf (what stood there is set aside and put back), /dev's null, zero, full, random,
//   urandom and tty as device nodes when CAP_MKNOD allows, else as empty regular files (with a warning), and file
//   mounts (secrets, long heredoc scripts).
// The command runs through tsbuild-exec without namespaces (PROC `-`): chroot into the tree, the bounding set cut to
// Docker's defaults (those this process has) minus CAP_SYS_CHROOT, no_new_privs, Docker's seccomp filter. What cannot
// be had without namespaces is written down in runtime/README.md ("Copy snapshots").
import { spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  fstatSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, posix } from 'node:path';
import { capMask, CAP_NUMBERS, containerCaps } from './caps.js';
import { BUILD_HOSTNAME, writeEtcFiles } from './etc-files.js';
import { ContainerSetupError, REPORT_HINT, RuntimeError } from './errors.js';
import { ensureHelper, helperArgv } from './helper.js';
import { AT, LibcError, mknodat, O, openat, unlinkat, utimensatNs } from './libc.js';
import { mkdirInRoot } from './paths.js';
import { containerEnv, envObject } from './plan.js';
import {
  closeFd,
  createFileAt,
  fdPath,
  innerPathOf,
  mkdirAllIn,
  openIn,
  openRoot,
  removeAt,
  type RootDir,
} from './root-fd.js';
import { supervise, killTree } from './run.js';
import { seccompFilter } from './seccomp/index.js';
import type { ContainerResult, NetworkMode } from './spec.js';
import { resolveUser } from './users.js';

export interface PlainRunSpec {
  /** The tree the command sees as `/` and writes into. */
  rootDir: string;
  /** A directory on the same filesystem, outside `rootDir`, for what the placed files set aside. */
  workDir: string;
  args: string[];
  env: string[];
  cwd?: string;
  user?: string;
  /** Only the environment's own network exists here: `none` is refused, `default` and `host` are that network. */
  network: NetworkMode;
  /** Files the command sees (secrets, scripts), taken out before the diff. */
  files?: { target: string; content: Buffer | string; mode?: number }[];
  helperDir: string;
  signal?: AbortSignal;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Called once per run with what could not be provided as asked (e.g. /dev nodes as plain files). */
  onWarning?: (message: string) => void;
}

export interface PlainRunResult extends ContainerResult {
  /** Paths (relative to the root, no leading slash) the runtime placed: not the command's changes. */
  placed: Set<string>;
  /** Directories whose times were set back after the placed files were taken out. */
  restored: Set<string>;
}

/** /dev nodes every RUN expects (runc's default devices), major/minor. */
const DEV_NODES: [string, number, number][] = [
  ['null', 1, 3],
  ['zero', 1, 5],
  ['full', 1, 7],
  ['random', 1, 8],
  ['urandom', 1, 9],
  ['tty', 5, 0],
];

const S_IFCHR = 0o020000;

/** This process's permitted capabilities (/proc/self/status CapPrm). */
function permittedCaps(): bigint {
  const m = /^CapPrm:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

/** Why a RUN cannot run in copy-snapshot mode here, or undefined when it can (chroot needs CAP_SYS_CHROOT). */
export function plainRunRefusal(): string | undefined {
  if ((permittedCaps() & (1n << BigInt(CAP_NUMBERS.SYS_CHROOT!))) === 0n)
    return 'RUN needs chroot into the snapshot, and this process lacks CAP_SYS_CHROOT (a non-root user without a user namespace)';
  return undefined;
}

/** A directory files were placed in: its times before, and its mtime once everything was placed. */
interface ParentTimes {
  atimeNs: bigint;
  mtimeNs: bigint;
  placedMtimeNs?: bigint;
}

interface Placement {
  /** Inner path, no leading slash. */
  rel: string;
  parentRel: string;
  /** What stood there, moved to the work dir. */
  stash?: string;
}

export async function runPlain(spec: PlainRunSpec): Promise<PlainRunResult> {
  const started = performance.now();
  if (spec.network === 'none') {
    throw new RuntimeError('NETWORK_NONE_UNAVAILABLE', 'RUN --network=none cannot be honoured with copy snapshots', {
      hint: 'no network namespace can be made here: the command would use the network of the environment; build where namespaces are allowed, or drop --network=none',
    });
  }
  const refusal = plainRunRefusal();
  if (refusal)
    throw new RuntimeError('NO_CHROOT', refusal, {
      hint: 'run tsbuild as root in the container, or where a user namespace can be made',
    });
  const placements: Placement[] = [];
  const createdDirs: string[] = [];
  const parentTimes = new Map<string, ParentTimes>();
  const root = openRoot(spec.rootDir);
  const stashDir = join(spec.workDir, 'stash');
  mkdirSync(stashDir, { recursive: true, mode: 0o700 });
  let step = 'place files';
  let child: ReturnType<typeof spawn> | undefined;
  let result: Omit<ContainerResult, 'durationMs'>;
  try {
    const etcDir = join(spec.workDir, 'etc');
    mkdirSync(etcDir, { recursive: true, mode: 0o700 });
    const etc = await writeEtcFiles(etcDir, {
      hostname: BUILD_HOSTNAME,
      network: 'host',
      extraHosts: [],
      purpose: 'build',
    });
    const place = (target: string, make: (dirFd: number, name: string) => void): void => {
      const dir = posix.dirname(target);
      const name = posix.basename(target);
      let dirFd: number;
      try {
        dirFd = mkdirAllIn(root, dir, 0o755, 'inRoot', (_fd, p) => createdDirs.push(p));
      } catch (e) {
        // e.g. the image's /etc is a symlink to nowhere: nothing is made outside the tree, and the RUN cannot start
        throw new RuntimeError('PLACE_FAILED', `cannot place ${target} in the snapshot: ${(e as Error).message}`, {
          hint: `${dir} in the image is not a directory (a dangling symlink?): the RUN needs ${target} there`,
          cause: e,
        });
      }
      try {
        const parentRel = innerPathOf(root, dirFd).slice(1);
        const rel = parentRel === '' ? name : `${parentRel}/${name}`;
        if (!parentTimes.has(parentRel)) {
          const st = fstatSync(dirFd, { bigint: true });
          parentTimes.set(parentRel, { atimeNs: st.atimeNs, mtimeNs: st.mtimeNs });
        }
        const p: Placement = { rel, parentRel };
        if (existsAt(dirFd, name)) {
          p.stash = join(stashDir, String(placements.length));
          renameSync(`${fdPath(dirFd)}/${name}`, p.stash);
        }
        placements.push(p);
        make(dirFd, name);
      } finally {
        closeFd(dirFd);
      }
    };
    const writeFile = (content: Buffer | string, mode: number) => (dirFd: number, name: string) => {
      const fd = createFileAt(dirFd, name, mode);
      try {
        writeFileSync(fd, content);
      } finally {
        closeSync(fd);
      }
    };
    place('/etc/hosts', writeFile(readFileSync(etc.hosts), 0o644));
    place('/etc/resolv.conf', writeFile(readFileSync(etc.resolvConf), 0o644));
    let plainDev = false;
    for (const [name, major, minor] of DEV_NODES) {
      place(`/dev/${name}`, (dirFd, n) => {
        try {
          mknodat(dirFd, n, S_IFCHR | 0o666, major, minor);
        } catch (e) {
          if (!(e instanceof LibcError && e.code === 'EPERM')) throw e;
          plainDev = true;
          writeFile('', 0o666)(dirFd, n);
        }
      });
    }
    if (plainDev)
      spec.onWarning?.(
        'copy snapshots: /dev/null and the other /dev nodes are plain files in this RUN (no CAP_MKNOD here): what is written to them is kept until the step ends, and reading /dev/urandom gives nothing',
      );
    for (const f of spec.files ?? []) place(f.target, writeFile(f.content, f.mode ?? 0o400));
    for (const [rel, t] of parentTimes) t.placedMtimeNs = dirMtimeNs(root, rel);
    // a change the command makes (to these directories, or to the snapshot's files) must show as a new time: it
    // starts once the coarse clock that stamps inodes has moved past everything done so far
    await clockTicked(join(spec.workDir, 'tick'));

    step = 'resolve user';
    const user = await resolveUser(spec.rootDir, spec.user, 'build');
    const cwd = spec.cwd ?? '/';
    await mkdirInRoot(spec.rootDir, cwd);
    const helper = await ensureHelper(spec.helperDir);
    const seccompFile = join(spec.workDir, 'seccomp.bpf');
    writeFileSync(seccompFile, seccompFilter(containerCaps('chroot')), { mode: 0o600 });
    // capset cannot raise what this process lacks: Docker's set, cut to what the environment gave us. Without
    // CAP_MKNOD: no nodev mount contains the tree here (overlay's is nodev), so a node the command made (a host disk's
    // block device) would open; a whiteout (0/0) needs no capability.
    const noMknod = ~(1n << BigInt(CAP_NUMBERS.MKNOD!));
    const caps = (capMask(containerCaps('chroot', spec.network)) & permittedCaps() & noMknod).toString(16);
    const [file, ...rest] = spec.args;
    if (file === undefined) throw new RuntimeError('NO_COMMAND', 'no command', { hint: REPORT_HINT });
    const argv = helperArgv(helper, {
      proc: '-',
      nofile: 1_048_576,
      seccompFile,
      procReadonly: [],
      procMaskedFiles: [],
      procMaskedDirs: [],
      root: spec.rootDir,
      cwd,
      uid: user.uid,
      gid: user.gid,
      groups: user.groups,
      caps,
      args: [file, ...rest],
    });
    step = 'start';
    spec.signal?.throwIfAborted();
    const previousUmask = process.umask(0o022);
    try {
      child = spawn(argv[0]!, argv.slice(1), {
        env: envObject(containerEnv(spec.env, user.home)),
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
    } finally {
      process.umask(previousUmask);
    }
    result = await supervise(child, spec, undefined);
  } catch (e) {
    if (e instanceof RuntimeError || (e as Error).name === 'AbortError') throw e;
    throw new ContainerSetupError('copy', step, e);
  } finally {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) killTree(child);
    unplace(root, placements, createdDirs, parentTimes);
    root.close();
    rmSync(stashDir, { recursive: true, force: true });
  }
  return {
    ...result,
    durationMs: performance.now() - started,
    placed: new Set(placements.map((p) => p.rel)),
    restored: new Set(parentTimes.keys()),
  };
}

/**
 * Resolves once the clock the kernel stamps inode times with has moved on: a probe file's ctime, taken now and then
 * again until it differs (one tick of the coarse clock at most, often none).
 */
async function clockTicked(probe: string): Promise<void> {
  writeFileSync(probe, '');
  const first = statSync(probe, { bigint: true }).ctimeNs;
  for (let i = 0; i < 1000; i++) {
    await new Promise((r) => setTimeout(r, 1));
    chmodSync(probe, i % 2 === 0 ? 0o600 : 0o644);
    if (statSync(probe, { bigint: true }).ctimeNs > first) return;
  }
  throw new RuntimeError('CLOCK_STILL', 'the inode clock did not move in a second', { hint: REPORT_HINT });
}

function existsAt(dirFd: number, name: string): boolean {
  try {
    closeFd(openat(dirFd, name, O.PATH | O.NOFOLLOW));
    return true;
  } catch (e) {
    if (e instanceof LibcError && e.code === 'ENOENT') return false;
    throw e;
  }
}

/** Takes out what was placed (whatever the command left there), puts back what was set aside, restores times. */
function unplace(
  root: RootDir,
  placements: Placement[],
  createdDirs: string[],
  parentTimes: Map<string, ParentTimes>,
): void {
  // a directory the command changed keeps the command's mtime; one it did not gets its own back
  const after = new Map<string, bigint | undefined>();
  for (const rel of parentTimes.keys()) after.set(rel, dirMtimeNs(root, rel));
  for (const p of [...placements].reverse()) {
    const parent = posix.dirname(`/${p.rel}`);
    let dirFd: number;
    try {
      dirFd = openDirIn(root, parent);
    } catch {
      continue; // the command removed the directory: nothing to take out
    }
    try {
      removeAt(dirFd, posix.basename(p.rel));
      if (p.stash) renameSync(p.stash, `${fdPath(dirFd)}/${posix.basename(p.rel)}`);
    } finally {
      closeFd(dirFd);
    }
  }
  for (const d of [...createdDirs].reverse()) {
    try {
      const dirFd = openDirIn(root, posix.dirname(d));
      try {
        unlinkat(dirFd, posix.basename(d), AT.REMOVEDIR);
      } finally {
        closeFd(dirFd);
      }
    } catch {
      // not empty: the command wrote into it, so it stays (and is part of the layer)
    }
  }
  for (const [rel, t] of parentTimes) {
    try {
      const fd = openDirIn(root, `/${rel}`);
      try {
        // to the nanosecond: the differ compares the directory's mtime with the record's exactly
        const now = after.get(rel);
        const mtime = now === undefined || now === t.placedMtimeNs ? t.mtimeNs : now;
        utimensatNs(fd, '.', t.atimeNs, mtime, 0);
      } finally {
        closeFd(fd);
      }
    } catch {
      // gone
    }
  }
}

function dirMtimeNs(root: RootDir, rel: string): bigint | undefined {
  try {
    const fd = openDirIn(root, `/${rel}`);
    try {
      return fstatSync(fd, { bigint: true }).mtimeNs;
    } finally {
      closeFd(fd);
    }
  } catch {
    return undefined;
  }
}

function openDirIn(root: RootDir, path: string): number {
  return openIn(root, path === '/' ? '.' : path, O.PATH | O.DIRECTORY, 'beneath');
}
