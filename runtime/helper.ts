// Locates (compiling once if needed) tsbuild-exec, the small C program that enters the root and drops privileges
// in chroot isolation (runtime/helper/tsbuild-exec.c). It runs as root, so it lives only where root alone can write:
// the helper directory the caller names (the builder and `tsbuild run` give `<store root>/runtime`), checked with
// lstat from it up to `/`, and the binary is checked before each first use. The compiler is a root-owned one from a
// system directory, run with a fixed environment: $CC and $PATH come from whoever started tsbuild and are not used.
// An image without a compiler (tsbuild's own, deploy/Buildfile) ships the helper precompiled beside its source, named
// for the source's hash as in the store: it is used when that directory passes the same root-only checks.
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, lstat, mkdir, readFile, realpath, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { TsbuildError } from '../oci/index.js';
import { inUserNamespace } from './userns.js';

const run = promisify(execFile);

/** The helper could not be built (no C compiler): the message says what to install. */
export class HelperBuildError extends TsbuildError {
  override name = 'HelperBuildError';
  constructor(
    readonly source: string,
    detail: string,
  ) {
    super('HELPER_BUILD', `cannot compile the runtime helper ${source}: ${detail}`, {
      hint: 'install gcc and libc6-dev (Debian: apt-get install gcc libc6-dev), or build with --isolation pivot',
    });
  }
}

/** The helper directory, one of its parents or the binary could be changed by someone other than root. */
export class HelperDirError extends TsbuildError {
  override name = 'HelperDirError';
  constructor(
    readonly helperDir: string,
    readonly path: string,
    problem: string,
    fix: string,
  ) {
    super('HELPER_DIR_UNSAFE', `refusing the runtime helper directory ${helperDir}: ${path} ${problem}; ${fix}`, {
      hint: 'the helper runs as root: only root may be able to change it or a directory above it',
    });
  }
}

/** Where a root-owned C compiler is looked for; the first trusted one is used. */
const COMPILERS = ['/usr/bin/cc', '/usr/bin/gcc', '/usr/bin/clang', '/usr/local/bin/cc', '/usr/local/bin/gcc'];
const COMPILE_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };

function sourcePath(): string {
  // From dist/runtime/helper.js the source is ../../runtime/helper/ (it ships beside dist/); from source, ./helper/.
  const candidates = [
    new URL('../../runtime/helper/tsbuild-exec.c', import.meta.url),
    new URL('./helper/tsbuild-exec.c', import.meta.url),
  ];
  const found = candidates.map((u) => fileURLToPath(u)).find((p) => existsSync(p));
  return found ?? fileURLToPath(candidates[0]!);
}

const mode = (m: number): string => `0${(m & 0o7777).toString(8)}`;

/**
 * Whether a file's owner counts as root. In a rootless run (a user namespace, runtime/userns.ts) the host's root
 * shows as the overflow uid (65534), and our own uid is 0; the helper then runs with no more than the user's own
 * rights, so both are accepted. The overflow uid also stands for every other unmapped host user: a parent directory
 * owned by another user of the host cannot be told from root's here, which is the limit of that check.
 */
export function isRootOwner(uid: number, inUserns = inUserNamespace()): boolean {
  return uid === 0 || (inUserns && uid === overflowUid());
}

let overflow: number | undefined;
function overflowUid(): number {
  if (overflow === undefined) {
    try {
      overflow = Number(readFileSync('/proc/sys/kernel/overflowuid', 'utf8').trim());
    } catch {
      overflow = 65534;
    }
  }
  return overflow;
}

/**
 * Checks that only root can change `dir` and every directory above it (lstat, so a symlink is refused). A parent
 * writable by others is accepted only when it is root's and sticky (/tmp): there nobody else may rename or remove
 * the root-owned entry below it.
 */
async function checkRootOnly(dir: string, helperDir: string): Promise<void> {
  for (let p = dir, isLeaf = true; ; p = dirname(p), isLeaf = false) {
    const st = await lstat(p);
    if (!st.isDirectory())
      throw new HelperDirError(helperDir, p, 'is not a directory (a symlink?)', 'give a real directory path');
    if (!isRootOwner(st.uid))
      throw new HelperDirError(helperDir, p, `is owned by uid ${st.uid}, not root`, `run chown root ${p}`);
    const sticky = (st.mode & 0o1000) !== 0;
    if ((st.mode & 0o022) !== 0 && (isLeaf || !sticky)) {
      throw new HelperDirError(
        helperDir,
        p,
        `is writable by group or others (mode ${mode(st.mode)})`,
        `run chmod go-w ${p}`,
      );
    }
    if (p === '/') return;
  }
}

/** The binary must be root's regular file that nobody else can write. */
async function checkBinary(bin: string, helperDir: string): Promise<boolean> {
  let st;
  try {
    st = await lstat(bin);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  if (!st.isFile())
    throw new HelperDirError(helperDir, bin, 'is not a regular file', `remove it (rm ${bin}) so that it is rebuilt`);
  if (!isRootOwner(st.uid) || (st.mode & 0o022) !== 0) {
    throw new HelperDirError(
      helperDir,
      bin,
      `is owned by uid ${st.uid} with mode ${mode(st.mode)}`,
      `remove it (rm ${bin}) so that it is rebuilt`,
    );
  }
  return true;
}

/** A compiler from COMPILERS whose real file and directories only root can change. */
async function findCompiler(): Promise<string> {
  for (const c of COMPILERS) {
    try {
      const real = await realpath(c);
      await checkRootOnly(dirname(real), real);
      const st = await lstat(real);
      if (st.isFile() && isRootOwner(st.uid) && (st.mode & 0o022) === 0) return real;
    } catch {
      // missing or not trusted: try the next one
    }
  }
  throw new HelperBuildError(sourcePath(), `no root-owned C compiler among ${COMPILERS.join(', ')}`);
}

const cache = new Map<string, Promise<string>>();

/** Path of the compiled helper in `helperDir` (made 0700 if missing), compiling it on first use (temp, then rename). */
export function ensureHelper(helperDir: string): Promise<string> {
  let p = cache.get(helperDir);
  if (!p) {
    p = build(helperDir);
    p.catch(() => cache.delete(helperDir));
    cache.set(helperDir, p);
  }
  return p;
}

/** The real path of `helperDir`, created 0700 below its deepest existing parent, which is checked first. */
async function prepareDir(helperDir: string): Promise<string> {
  let existing = helperDir;
  while (!existsSync(existing)) existing = dirname(existing);
  await checkRootOnly(await realpath(existing), helperDir);
  await mkdir(helperDir, { recursive: true, mode: 0o700 });
  const real = await realpath(helperDir);
  await checkRootOnly(real, helperDir);
  return real;
}

/** The file name of the helper compiled from `text`: a changed source never runs an old binary. */
export function helperName(text: Buffer): string {
  return `tsbuild-exec-${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
}

/**
 * The helper precompiled beside its source (an install by root, as in tsbuild's image), if it is there and only root
 * can change it; else undefined, and the store's copy is used (an install in a user's home is normal, not an error).
 */
async function prebuiltHelper(src: string, name: string): Promise<string | undefined> {
  const bin = join(dirname(src), name);
  try {
    await checkRootOnly(await realpath(dirname(src)), dirname(src));
    return (await checkBinary(bin, dirname(src))) ? bin : undefined;
  } catch {
    return undefined;
  }
}

async function build(helperDir: string): Promise<string> {
  const src = sourcePath();
  const name = helperName(await readFile(src));
  const prebuilt = await prebuiltHelper(src, name);
  if (prebuilt !== undefined) return prebuilt;
  const dir = await prepareDir(helperDir);
  const bin = join(dir, name);
  if (await checkBinary(bin, helperDir)) return bin;
  const cc = await findCompiler();
  const tmp = `${bin}.tmp-${process.pid}`;
  try {
    await run(cc, ['-O2', '-Wall', '-o', tmp, src], { env: COMPILE_ENV });
    await chmod(tmp, 0o755);
    await rename(tmp, bin);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new HelperBuildError(src, (err as Error).message.split('\n')[0] ?? String(err));
  }
  return bin;
}

/** What one container's helper run is given (tsbuild-exec.c's usage, in order). */
export interface HelperCall {
  /** rootless: a network namespace to join (a path the helper can open), and where to mount its sysfs */
  netns?: string;
  sysfs?: string;
  /** `-` for none (copy snapshots), `shared:PATH` to bind the current /proc, else where to mount a fresh one */
  proc: string;
  nofile: number;
  seccompFile: string;
  procReadonly: readonly string[];
  procMaskedFiles: readonly string[];
  procMaskedDirs: readonly string[];
  root: string;
  cwd: string;
  uid: number;
  gid: number;
  groups: readonly number[];
  /** the capability mask, hex */
  caps: string;
  args: readonly [string, ...string[]];
}

/** The helper's argv for `call` (argv[0] is the helper): one writer of its positional layout. */
export function helperArgv(helper: string, call: HelperCall): string[] {
  const [file, ...rest] = call.args;
  return [
    helper,
    ...(call.netns !== undefined ? ['--netns', call.netns] : []),
    ...(call.sysfs !== undefined ? ['--sysfs', call.sysfs] : []),
    String(process.pid),
    call.proc,
    String(call.nofile),
    call.seccompFile,
    call.procReadonly.join(','),
    call.procMaskedFiles.join(','),
    call.procMaskedDirs.join(','),
    call.root,
    call.cwd,
    String(call.uid),
    String(call.gid),
    call.groups.join(',') || '-',
    call.caps,
    '--',
    file,
    file,
    ...rest,
  ];
}
