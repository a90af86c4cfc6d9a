// runContainer: prepare the mount tree, start the namespaced process chain, supervise it, undo everything.
// How a step starts is written down in runtime/README.md; the order below is that design.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { capMask, containerCaps } from './caps.js';
import { createCgroup, hasLimits, type Cgroup } from './cgroups.js';
import { BUILD_HOSTNAME, writeEtcFiles } from './etc-files.js';
import { ContainerSetupError, REPORT_HINT, RuntimeError } from './errors.js';
import { ensureHelper, helperArgv, type HelperCall } from './helper.js';
import { MNT_DETACH, mount, MS, umount2 } from './libc.js';
import {
  mountOverlay,
  mountSysAt,
  mountTree,
  PROC_MASKED_DIRS,
  PROC_MASKED_FILES,
  PROC_READONLY,
  removeTraces,
  writeMountFile,
  type PlannedMount,
  type Trace,
} from './mounts.js';
import { withContainerNamespaces } from './namespaces.js';
import { createNetwork, type Network } from './network.js';
import { mkdirInRoot } from './paths.js';
import { containerEnv, envObject, type InitPlan } from './plan.js';
import { activeContainerDirs, defaultRunDir, ensurePrivateRunDir, holdRunDir, mountPoints } from './rundir.js';
import type { ContainerResult, ContainerSpec, Isolation, MountSpec } from './spec.js';
import { seccompFilter } from './seccomp/index.js';
import { resolveUser } from './users.js';
import {
  closeNamespace,
  inUserNamespace,
  joinNetworkPrefix,
  makeNetworkNamespaceOutside,
  mountSysfsIn,
} from './userns.js';

function findBinary(name: string): string {
  for (const d of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) if (existsSync(join(d, name))) return join(d, name);
  throw new RuntimeError('TOOL_MISSING', `${name} (util-linux) not found`, {
    hint: 'install util-linux (Debian: apt-get install util-linux): RUN steps use its setpriv',
  });
}
const SETPRIV = findBinary('setpriv');
const UNSHARE = findBinary('unshare');
/**
 * init.js beside this module when running compiled, tsc's copy beside the CLI bundle (dist/bundle → dist/runtime),
 * or the compiled copy when running from source (tests).
 */
const INIT_JS =
  [
    new URL('./init.js', import.meta.url),
    new URL('../runtime/init.js', import.meta.url),
    new URL('../dist/runtime/init.js', import.meta.url),
  ]
    .map((u) => fileURLToPath(u))
    .find((p) => existsSync(p)) ?? fileURLToPath(new URL('./init.js', import.meta.url));

/** Pivot isolation's chain: dies with us, makes the mount/PID namespaces and forks PID 1 (the Node init). */
const PIVOT_CHAIN = [
  SETPRIV,
  '--pdeathsig',
  'KILL',
  '--',
  UNSHARE,
  '--mount',
  '--pid',
  '--fork',
  '--kill-child',
  '--propagation',
  'private',
  '--',
];

/** Docker's default RLIMIT_NOFILE for containers (capped at our own hard limit). */
const DEFAULT_NOFILE = 1_048_576;

/** While cgroups are set up the chain waits on fd 3 so that nothing runs outside the limits. */
const HOLD = ['/bin/sh', '-c', 'read _ <&3; exec 3<&-; exec "$@"', 'tsbuild-hold'];

/**
 * File mounts are written under the files dir; bind sources stay (root, path inside it) for the process that mounts
 * them to resolve; a bind whose writes are discarded gets a scratch directory of this container for its overlay.
 */
async function planMounts(mounts: MountSpec[], filesDir: string, cdir: string): Promise<PlannedMount[]> {
  const out: PlannedMount[] = [];
  let n = 0;
  for (const m of mounts) {
    if (m.type === 'file') {
      const name = `mount-${n++}`;
      await writeMountFile(join(filesDir, name), m.content, m.mode);
      out.push({ type: 'bind', root: filesDir, source: name, target: m.target, readonly: true });
    } else if (m.type === 'bind') {
      const { discardWrites, ...bind } = m;
      out.push(discardWrites ? { ...bind, readonly: false, scratch: join(cdir, `rw-${n++}`) } : bind);
    } else out.push(m);
  }
  return out;
}

export async function runContainer(spec: ContainerSpec): Promise<ContainerResult> {
  const started = performance.now();
  const id = randomBytes(6).toString('hex');
  const isolation: Isolation = spec.isolation ?? 'chroot';
  const network = spec.network ?? 'default';
  const purpose = spec.purpose ?? 'run';
  const hostname = spec.hostname ?? (purpose === 'build' ? BUILD_HOSTNAME : id);
  const runDir = spec.runDir ?? defaultRunDir();
  const cdir = join(runDir, 'c', `${process.pid}-${id}`);
  const root = join(cdir, 'rootfs');
  const filesDir = join(cdir, 'files');
  const caps = capMask(containerCaps(isolation, network)).toString(16);
  const nofile = spec.nofile ?? DEFAULT_NOFILE;
  let step = 'prepare';
  let overlayMounted = false;
  let traces: Trace[] = [];
  let cgroup: Cgroup | undefined;
  let child: ChildProcess | undefined;
  // a default-network container without a shared network gets its own, for its lifetime
  let ownNetwork: Network | undefined;
  // a rootless `none` container's own network namespace (runtime/userns.ts)
  let ownNetns: number | undefined;
  let result: Omit<ContainerResult, 'durationMs'>;
  spec.signal?.throwIfAborted();

  // the run dir stays mounted while this container has anything in it (see holdRunDir)
  const releaseRunDir = holdRunDir(runDir);
  activeContainerDirs.add(cdir);
  try {
    // The container dir exists before the run dir is checked, so a concurrent cleanupStaleMounts sees it as live.
    mkdirSync(filesDir, { recursive: true, mode: 0o700 });
    await ensurePrivateRunDir(runDir);
    mkdirSync(root);
    const lowerdirs = spec.rootfs.lowerdirs.length > 0 ? spec.rootfs.lowerdirs : [await emptyDir(cdir)];
    const etcFiles = await writeEtcFiles(filesDir, { hostname, network, extraHosts: spec.extraHosts ?? [], purpose });
    const mounts = await planMounts(spec.mounts ?? [], filesDir, cdir);
    const cwd = spec.cwd ?? '/';
    const seccompFile = spec.seccomp === 'unconfined' ? '-' : join(cdir, 'seccomp.bpf');
    if (seccompFile !== '-') writeFileSync(seccompFile, seccompFilter(containerCaps(isolation)), { mode: 0o600 });
    if (hasLimits(spec.resources)) cgroup = await createCgroup(id, spec.resources);
    let argv: string[];
    let env: Record<string, string>;
    let sysMount: string | undefined;
    // chroot isolation: the helper and what it is given (rootless adds the network to join, below)
    let helper: string | undefined;
    let call: HelperCall | undefined;

    if (isolation === 'chroot') {
      step = 'mount rootfs';
      mountOverlay(lowerdirs, spec.rootfs.upperdir, spec.rootfs.workdir, root);
      overlayMounted = true;
      const tree = await mountTree({ root, upperdir: spec.rootfs.upperdir, etcFiles, mounts, procAndSys: false });
      const { proc, sys } = tree;
      sysMount = sys;
      traces = tree.traces;
      step = 'resolve user';
      const user = await resolveUser(root, spec.user, purpose);
      await mkdirInRoot(root, cwd);
      helper = await ensureHelper(spec.helperDir ?? join(runDir, 'helper'));
      const [file, ...rest] = spec.args;
      if (file === undefined) throw new RuntimeError('NO_COMMAND', 'no command', { hint: REPORT_HINT });
      call = {
        proc: spec.procShared ? `shared:${proc}` : proc,
        nofile,
        seccompFile,
        procReadonly: PROC_READONLY,
        procMaskedFiles: PROC_MASKED_FILES,
        procMaskedDirs: PROC_MASKED_DIRS,
        root,
        cwd,
        uid: user.uid,
        gid: user.gid,
        groups: user.groups,
        caps,
        args: [file, ...rest],
      };
      argv = helperArgv(helper, call);
      env = envObject(containerEnv(spec.env, user.home));
    } else {
      const plan: InitPlan = {
        lowerdirs,
        upperdir: spec.rootfs.upperdir,
        workdir: spec.rootfs.workdir,
        root,
        etcFiles,
        mounts,
        tracesFile: join(cdir, 'traces.json'),
        user: spec.user,
        cwd,
        args: spec.args,
        env: spec.env,
        caps,
        cgroupDirs: cgroup?.dirs ?? [],
        nofile,
        ...(spec.procShared ? { procShared: true } : {}),
      };
      writeFileSync(join(cdir, 'plan.json'), JSON.stringify(plan));
      argv = [...PIVOT_CHAIN, process.execPath, INIT_JS, join(cdir, 'plan.json'), seccompFile];
      env = {};
    }

    step = 'start network';
    if (network === 'default' && !spec.sharedNetwork) ownNetwork = await createNetwork();
    const netns = network === 'default' ? (spec.sharedNetwork ?? ownNetwork)!.fd : undefined;
    step = 'start';
    if (cgroup && isolation === 'chroot') argv = [...HOLD, ...argv];
    // Rootless: the chain joins the network itself, and sysfs is mounted from inside it (runtime/userns.ts); under
    // chroot isolation the helper does both (one exec), under pivot nsenter and mount do.
    if (inUserNamespace() && network !== 'host') {
      if (network === 'none') ownNetns = makeNetworkNamespaceOutside(runDir);
      const fd = netns ?? ownNetns!;
      if (helper !== undefined && call !== undefined) {
        const chain = argv.slice(0, argv.indexOf(helper));
        argv = [
          ...chain,
          ...helperArgv(helper, {
            ...call,
            netns: `/proc/${process.pid}/fd/${fd}`,
            ...(sysMount !== undefined ? { sysfs: sysMount } : {}),
          }),
        ];
      } else {
        if (sysMount) {
          try {
            mountSysfsIn(fd, sysMount);
          } catch {
            // a fresh sysfs is refused where /sys has masked parts (inside a container): its /sys instead, as podman
            mount('/sys', sysMount, null, MS.BIND | MS.REC);
          }
        }
        argv = [...joinNetworkPrefix(fd), ...argv];
      }
      sysMount = undefined;
    } else if (inUserNamespace() && sysMount) {
      // the host's network namespace is not ours to mount sysfs for: its /sys, read-only, as rootless podman does
      mount('/sys', sysMount, null, MS.BIND | MS.REC);
      sysMount = undefined;
    }
    spec.signal?.throwIfAborted();
    const previousUmask = process.umask(0o022);
    try {
      child = withContainerNamespaces({ hostname, network, ...(netns !== undefined ? { netns } : {}) }, () => {
        // sysfs shows the network devices of the namespace that mounts it: mount it from inside.
        if (sysMount) mountSysAt(sysMount);
        return spawn(argv[0]!, argv.slice(1), {
          env,
          stdio: cgroup && isolation === 'chroot' ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
          detached: true,
        });
      });
    } finally {
      process.umask(previousUmask);
    }
    result = await supervise(child, spec, isolation === 'chroot' ? cgroup : undefined);
  } catch (e) {
    if (e instanceof ContainerSetupError || (e as Error).name === 'AbortError') throw e;
    throw new ContainerSetupError(id, step, e);
  } finally {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) killTree(child);
    if (overlayMounted) {
      try {
        umount2(root, MNT_DETACH);
      } catch {
        // already gone
      }
    }
    await ownNetwork?.close().catch(() => undefined);
    if (ownNetns !== undefined) closeNamespace(ownNetns);
    if (isolation === 'pivot') traces = readTraces(join(cdir, 'traces.json'));
    await removeTraces(spec.rootfs.upperdir, traces);
    await cgroup?.remove();
    activeContainerDirs.delete(cdir);
    try {
      if (mountPoints().some((m) => m === cdir || m.startsWith(cdir + '/'))) {
        throw new ContainerSetupError(
          id,
          'cleanup',
          new RuntimeError('MOUNTS_LEFT', `${cdir} still has mounts`, {
            hint: `a process may still use them: the next build unmounts what is left (or: umount -R ${cdir})`,
          }),
        );
      }
      rmSync(cdir, { recursive: true, force: true });
    } finally {
      releaseRunDir();
    }
  }
  return { ...result, durationMs: performance.now() - started };
}

async function emptyDir(cdir: string): Promise<string> {
  const d = join(cdir, 'empty');
  mkdirSync(d);
  return d;
}

function readTraces(file: string): Trace[] {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Trace[];
  } catch {
    return [];
  }
}

export function killTree(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // gone already
  }
}

export async function supervise(
  child: ChildProcess,
  spec: Pick<ContainerSpec, 'timeoutMs' | 'signal' | 'onStdout' | 'onStderr'>,
  cgroup: Cgroup | undefined,
): Promise<Omit<ContainerResult, 'durationMs'>> {
  let timedOut = false;
  let aborted = false;
  const onAbort = (): void => {
    aborted = true;
    killTree(child);
  };
  const timer =
    spec.timeoutMs !== undefined ? setTimeout(() => ((timedOut = true), killTree(child)), spec.timeoutMs) : undefined;
  spec.signal?.addEventListener('abort', onAbort, { once: true });
  if (spec.signal?.aborted) onAbort(); // aborted between the last check and here: the event will not fire again
  if (spec.onStdout) child.stdout!.on('data', spec.onStdout);
  else child.stdout!.resume();
  if (spec.onStderr) child.stderr!.on('data', spec.onStderr);
  else child.stderr!.resume();
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  try {
    if (cgroup) {
      await cgroup.attach(child.pid!);
      const hold = child.stdio[3] as NodeJS.WritableStream;
      hold.end('go\n');
    }
    const { code, signal } = await done;
    return { exitCode: code, signal, timedOut, aborted };
  } finally {
    if (timer) clearTimeout(timer);
    spec.signal?.removeEventListener('abort', onAbort);
  }
}
