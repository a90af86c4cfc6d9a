// The runtime's public API. The builder imports it at start-up for the fd primitives, and a cached build never runs
// a container: running one (the helper, cgroups, seccomp, the network) is loaded on first use, behind the wrappers.
import type { ContainerResult, ContainerSpec } from './spec.js';
import type { Network } from './network.js';
import type { PlainRunResult, PlainRunSpec } from './run-plain.js';

export type {
  ContainerSpec,
  ContainerResult,
  MountSpec,
  NetworkMode,
  Isolation,
  Resources,
  RootfsSpec,
} from './spec.js';
export type { Network } from './network.js';
export type { PlainRunResult, PlainRunSpec } from './run-plain.js';
export type { HelperBuildError } from './helper.js';
export type { CgroupError } from './cgroups.js';
export type { NetworkError } from './network.js';
export { ContainerSetupError, RuntimeError } from './errors.js';

/** Runs one container as `spec` describes it; see runtime/README.md for the sequence. */
export async function runContainer(spec: ContainerSpec): Promise<ContainerResult> {
  return (await import('./run.js')).runContainer(spec);
}

/** A RUN in a plain directory tree, without namespaces or mounts (copy snapshots; runtime/run-plain.ts). */
export async function runPlain(spec: PlainRunSpec): Promise<PlainRunResult> {
  return (await import('./run-plain.js')).runPlain(spec);
}

/** Why runPlain cannot run here (no CAP_SYS_CHROOT), or undefined. */
export async function plainRunRefusal(): Promise<string | undefined> {
  return (await import('./run-plain.js')).plainRunRefusal();
}

/** A private network namespace with outbound access (slirp4netns), joined by containers until it is closed. */
export async function createNetwork(): Promise<Network> {
  return (await import('./network.js')).createNetwork();
}

export { cleanupStaleMounts, DEFAULT_RUN_DIR, defaultRunDir } from './rundir.js';
export { UserError, resolveUserFrom, parseGroup, parsePasswd, readUserDb } from './users.js';
export {
  openRoot,
  openIn,
  openPathIn,
  mkdirAllIn,
  createFileAt,
  fdPath,
  statFd,
  readFdAt,
  closeFd,
  innerPathOf,
  linkFdAt,
  openDirAt,
  removeAt,
  symlinkAt,
  RootEscapeError,
  type RootDir,
  type Resolution,
} from './root-fd.js';
export { AT, LibcError, O, fchownat, openat, unlinkat, utimensat } from './libc.js';
export { overlayLowerOrder } from './overlay-order.js';
export { binfmtDir, checkRunnable, EmulatorMissingError, readBinfmt, runnerFor } from './binfmt.js';
export { BindSourceError, openBindSource } from './mounts.js';
export { mountReadonlyOverlay, unmountView } from './view-mount.js';
export {
  decideMode,
  formatIdMap,
  probeFacts,
  subidRange,
  ModeError,
  SUBID_FIX,
  type IdRange,
  type IsolationRequest,
  type Mode,
  type ModeDecision,
  type ModeFacts,
  type ModeRequest,
} from './mode.js';
export { runInUserNamespace } from './reexec.js';
export { userRunDir } from './user-dirs.js';
export { explainChown, inUserNamespace, UnmappedIdError, unmappedIdHint } from './userns.js';
