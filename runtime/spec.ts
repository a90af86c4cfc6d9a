// ContainerSpec: a complete description of one container run. The runtime only executes it (runc's config.json
// idea); builder/ and cli/ fill it in.

/**
 * `default`: a private network namespace with outbound access through slirp4netns and no route to the host's
 * loopback; `host`: the host's network namespace (opt-in); `none`: only `lo`.
 */
export type NetworkMode = 'default' | 'host' | 'none';
/** `chroot`: fast default (chroot + CAP_SYS_CHROOT/CAP_SYS_ADMIN dropped); `pivot`: pivot_root, stricter. */
export type Isolation = 'chroot' | 'pivot';

export interface RootfsSpec {
  /** Unpacked layer directories, lowest first (the order of `rootfs.diff_ids`). May be empty (scratch). */
  lowerdirs: string[];
  /** Fresh, empty directory that receives the container's writes (diffed into a layer afterwards). */
  upperdir: string;
  /** Overlay work directory on the same filesystem as upperdir. */
  workdir: string;
}

export type MountSpec =
  /**
   * `source` is a path inside `root` (a stage's view, the context, a cache directory), resolved there by the kernel
   * as a container rooted at `root` would see it: nothing outside `root` can be reached. `discardWrites` (RUN
   * --mount rw=true): the container writes to a throwaway overlay over the source, never to the source itself.
   */
  | { type: 'bind'; root: string; source: string; target: string; readonly: boolean; discardWrites?: boolean }
  | { type: 'tmpfs'; target: string; size?: number }
  /** A file made from bytes (secrets); never lands in the upperdir. */
  | { type: 'file'; target: string; content: Buffer | string; mode?: number };

export interface Resources {
  memoryBytes?: number;
  cpus?: number;
  pidsLimit?: number;
}

export interface ContainerSpec {
  rootfs: RootfsSpec;
  /** argv of the process; for shell form the builder has already prefixed SHELL. */
  args: string[];
  /** KEY=VALUE entries. PATH defaults to the standard one if missing. */
  env: string[];
  /** Working directory inside the container; created if missing. Default "/". */
  cwd?: string;
  /** `name`, `uid`, `name:group`, `uid:gid`; resolved from the rootfs's /etc/passwd and /etc/group. Default root. */
  user?: string;
  /**
   * `build`: a build step's RUN, in BuildKit's sandbox: host name `buildkitsandbox` (the same in every container,
   * so nothing random reaches an image), BuildKit's /etc/hosts, its supplementary groups (runtime/users.ts).
   * `run` (default): as docker run, a host name of the container's id.
   */
  purpose?: 'run' | 'build';
  hostname?: string;
  /** Default `default`. */
  network?: NetworkMode;
  /**
   * For `default`: an existing network to join (runtime/network.ts, one per build). Without it the container gets
   * one of its own for its lifetime.
   */
  sharedNetwork?: { fd: number };
  isolation?: Isolation;
  /**
   * Bind this process's /proc (recursively, masks and all) into the container instead of a fresh procfs: rootless
   * in a container whose /proc is masked, where the kernel refuses a fresh one (runtime/mode.ts decides it).
   */
  procShared?: boolean;
  mounts?: MountSpec[];
  /** Extra lines for /etc/hosts (`IP NAME`). */
  extraHosts?: string[];
  resources?: Resources;
  /** RLIMIT_NOFILE (soft and hard) of the process; capped at tsbuild's own hard limit. Default 1048576 (Docker's). */
  nofile?: number;
  /** Kill the container after this many ms (reported as a timeout). */
  timeoutMs?: number;
  /** Aborting kills the whole container tree and cleans up. */
  signal?: AbortSignal;
  /** Directory for the container's mount tree (default /run/tsbuild; keep it on tmpfs). */
  runDir?: string;
  /**
   * Directory for the compiled chroot helper, which runs as root: it and every directory above it must be root's and
   * not writable by group or others (checked). The builder gives `<store root>/runtime`. Default `<runDir>/helper`.
   */
  helperDir?: string;
  /** `default`: Docker's default seccomp profile (always, unless a benchmark or a debugging session says otherwise). */
  seccomp?: 'default' | 'unconfined';
  /** Called with each chunk of output as it comes (line-buffered when possible). */
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
}

export interface ContainerResult {
  /** Exit code when the process exited; null when it died of a signal. */
  exitCode: number | null;
  /** Signal name (e.g. "SIGKILL") when it died of one. */
  signal: string | null;
  timedOut: boolean;
  /** True when `signal` aborted the run (the container was killed). */
  aborted?: boolean;
  /** Wall time in ms from start to full cleanup. */
  durationMs: number;
}
