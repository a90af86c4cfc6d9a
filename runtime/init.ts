// The container's init in pivot isolation: run by `unshare --mount --pid --fork … node init.js PLAN SECCOMP` inside the
// new mount and PID namespaces (UTS/IPC/NET were made by the parent). Everything it mounts lives in this mount
// namespace only, so the kernel undoes it when the container dies, whatever happens to tsbuild.
//   mount overlay → /dev, /proc, /sys, /etc files, spec mounts (all onto O_PATH fds) → record mount-point traces →
//   resolve USER →
//   make cwd → pivot_root(".", ".") + umount2(".", MNT_DETACH) → fresh session keyring → bounding set →
//   groups/gid/uid → capabilities → no_new_privs → pdeathsig → umask → chdir → clear FD_CLOEXEC on 0-2, set it on
//   every fd >= 3 (an inherited directory fd would lead out of the root) → seccomp filter (SECCOMP: a file of
//   struct sock_filter, or `-` for none) → execvpe.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  capset,
  chdir,
  clearCloexec,
  cloexecFrom,
  execvpe,
  joinSessionKeyring,
  type LibcError,
  limitOpenFiles,
  MNT_DETACH,
  pivotRoot,
  PR,
  prctl,
  setgroups,
  setresgid,
  setresuid,
  setSeccompFilter,
  umask,
  umount2,
} from './libc.js';
import { mountOverlay, mountTree } from './mounts.js';
import { mkdirInRoot } from './paths.js';
import { containerEnv, envObject, type InitPlan } from './plan.js';
import { REPORT_HINT, RuntimeError } from './errors.js';
import { resolveUser } from './users.js';

async function main(planFile: string, seccompFile: string | undefined): Promise<never> {
  const plan = JSON.parse(readFileSync(planFile, 'utf8')) as InitPlan;
  if (seccompFile === undefined)
    throw new RuntimeError('INIT_USAGE', 'usage: init.js PLAN SECCOMP', { hint: REPORT_HINT });
  const filter = seccompFile === '-' ? undefined : readFileSync(seccompFile);
  mountOverlay(plan.lowerdirs, plan.upperdir, plan.workdir, plan.root);
  // Bind sources are resolved here, in this mount namespace, not passed as fds: a mount the parent's fd points to
  // lives in the parent's namespace, and open_tree/bind refuse a mount of another namespace.
  const { traces } = await mountTree({
    root: plan.root,
    upperdir: plan.upperdir,
    etcFiles: plan.etcFiles,
    mounts: plan.mounts,
    procAndSys: true,
    ...(plan.procShared ? { procShared: true } : {}),
  });
  writeFileSync(plan.tracesFile, JSON.stringify(traces));
  const user = await resolveUser(plan.root, plan.user);
  await mkdirInRoot(plan.root, plan.cwd);
  const lastCap = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
  for (const dir of plan.cgroupDirs) writeFileSync(join(dir, 'cgroup.procs'), String(process.pid));

  chdir(plan.root);
  pivotRoot('.', '.');
  umount2('.', MNT_DETACH);
  chdir('/');

  // runc's order: the keyring before the user switch, so that it belongs to the container's root.
  try {
    joinSessionKeyring();
  } catch (e) {
    // ENOSYS: a kernel without keyrings has no host keys to hide (runc lets it pass too).
    if ((e as LibcError).code !== 'ENOSYS') throw e;
  }
  const caps = BigInt(`0x${plan.caps}`);
  for (let cap = 0; cap <= lastCap; cap++) if (!(caps & (1n << BigInt(cap)))) prctl(PR.CAPBSET_DROP, cap);
  setgroups(user.groups);
  setresgid(user.gid);
  setresuid(user.uid);
  const kept = user.uid === 0 ? caps : 0n;
  capset(kept, kept, 0n);
  prctl(PR.CAP_AMBIENT, 4 /* PR_CAP_AMBIENT_CLEAR_ALL */);
  prctl(PR.SET_NO_NEW_PRIVS, 1);
  prctl(PR.SET_PDEATHSIG, 9 /* SIGKILL: setresuid cleared what unshare set */);
  umask(0o022);
  limitOpenFiles(plan.nofile);
  chdir(plan.cwd);
  const env = containerEnv(plan.env, user.home);
  // execvpe searches the PATH of the calling process's environment.
  process.env.PATH = envObject(env).PATH;
  for (const fd of [0, 1, 2]) clearCloexec(fd);
  cloexecFrom(3);
  const [file, ...rest] = plan.args;
  if (file === undefined) throw new RuntimeError('NO_COMMAND', 'no command', { hint: REPORT_HINT });
  // Last: from here on only what Docker's profile allows (execve is in it).
  if (filter) setSeccompFilter(filter);
  return execvpe(file, [file, ...rest], env);
}

main(process.argv[2]!, process.argv[3]).catch((err: unknown) => {
  const e = err as NodeJS.ErrnoException & { code?: string };
  process.stderr.write(`tsbuild init: ${e.message ?? String(err)}\n`);
  process.exitCode =
    e.name === 'LibcError' && e.code === 'ENOENT' ? 127 : e.name === 'LibcError' && e.code === 'EACCES' ? 126 : 125;
});
