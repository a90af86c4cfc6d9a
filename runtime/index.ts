// The runtime's public API. The builder imports it at start-up for the fd primitives, and a cached build never runs
// a container: running one (the helper, cgroups, seccomp, the network) is loaded on first use, behind the wrappers.
import type { ContainerResult, ContainerSpec } from './spec.js';
import type { Network } from './network.js';

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
export type { HelperBuildError } from './helper.js';
export type { CgroupError } from './cgroups.js';
export type { NetworkError } from './network.js';
export { ContainerSetupError, RuntimeError } from './errors.js';

/** Runs one container as `spec` describes it; see runtime/README.md for the sequence. */
export async function runContainer(spec: ContainerSpec): Promise<ContainerResult> {
  return (await import('./run.js')).runContainer(spec);
}

/** A private network namespace with outbound access (slirp4netns), joined by containers until it is closed. */
export async function createNetwork(): Promise<Network> {
  return (await import('./network.js')).createNetwork();
}

export { cleanupStaleMounts, DEFAULT_RUN_DIR } from './rundir.js';
export { UserError, resolveUserFrom, parseGroup, parsePasswd, readUserDb } from './users.js';
export {
  openRoot,
  openIn,
  openPathIn,
  mkdirAllIn,
  createFileAt,
  fdPath,
  statFd,
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
export { BindSourceError, openBindSource } from './mounts.js';
export { mountReadonlyOverlay, unmountView } from './view-mount.js';
