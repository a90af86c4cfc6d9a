// The runtime's public API: run one container from a ContainerSpec; clean up after a crashed run.
export { runContainer, ContainerSetupError } from './run.js';
export { cleanupStaleMounts, DEFAULT_RUN_DIR } from './rundir.js';
export { UserError, resolveUserFrom } from './users.js';
export { CgroupError } from './cgroups.js';
export { HelperBuildError } from './helper.js';
export type { ContainerSpec, ContainerResult, MountSpec, NetworkMode, Isolation, Resources, RootfsSpec } from './spec.js';
export { openRoot, openIn, openPathIn, mkdirAllIn, createFileAt, fdPath, statFd, closeFd, RootEscapeError, type RootDir, type Resolution } from './root-fd.js';
