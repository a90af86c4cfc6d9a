// Options every registry operation takes, and how they are completed from the environment and the config file.
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface RegistryOptions {
  /** Mirrors for docker.io (`https://mirror.example`, `http://127.0.0.1:5001`), tried in order before Docker Hub. */
  mirrors?: string[];
  /** Registries reached over plain HTTP (`HOST[:PORT]`). */
  insecure?: string[];
  /** Parallel blob transfers (default 4). */
  concurrency?: number;
  /**
   * Most retries after the first attempt. Default: 5 for 500, 408 and 429; for a registry that is down or
   * restarting (refused or reset connections, 502/503/504) no count, only `retrySeconds`.
   */
  retries?: number;
  /**
   * How long a request keeps being retried while the registry is down or restarting, from its first failure
   * (default 30 s; `TSBUILD_REGISTRY_RETRY_SECONDS`). A registry restart takes seconds; dockerd retries a layer 5
   * times.
   */
  retrySeconds?: number;
  /** Told of each retry, before its wait (the CLI shows it as progress). */
  onRetry?: (notice: RetryNotice) => void;
  /** Docker's config.json (default `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`). */
  dockerConfigPath?: string;
  /** An extra auth file in the same format, consulted first (containers' `auth.json`, `$REGISTRY_AUTH_FILE`). */
  authConfigPath?: string;
  userAgent?: string;
  /** Verbose diagnostics (requests retried, rate-limit headers, mirror fallbacks). */
  verbose?: (msg: string) => void;
  /** Directory for small client state (which repositories of a registry hold a blob, for cross-repo mounts). */
  stateDir?: string;
  /** Base delay of the exponential backoff in ms (default 250). */
  retryBaseMs?: number;
  /** Idle timeout of a request in ms: no headers or no body bytes for this long fails the attempt (default 60 s). */
  timeoutMs?: number;
}

/** A request about to be retried. */
export interface RetryNotice {
  registry: string;
  repository?: string;
  /** What was tried: `GET /v2/library/busybox/manifests/latest`, `upload of sha256:…`. */
  request: string;
  /** Why: the error or the HTTP status. */
  message: string;
  /** 1 for the first retry. */
  attempt: number;
  waitMs: number;
  /** Time left before the operation gives up. */
  remainingMs: number;
}

/** The default of RegistryOptions.retrySeconds. */
export const DEFAULT_RETRY_SECONDS = 30;

/** TSBUILD_REGISTRY_RETRY_SECONDS as a number of seconds (0 allowed), or undefined when unset; throws when invalid. */
export function retrySecondsFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const v = env.TSBUILD_REGISTRY_RETRY_SECONDS;
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0)
    throw new Error(`TSBUILD_REGISTRY_RETRY_SECONDS must be a number of seconds (0 or more), not ${JSON.stringify(v)}`);
  return n;
}

export interface RegistryConfigFile {
  registryMirrors?: string[];
  insecureRegistries?: string[];
}

function splitList(v: string | undefined): string[] {
  return (v ?? '').split(/[,\s]+/).filter(Boolean);
}

/** `$TSBUILD_CONFIG`, else `$XDG_CONFIG_HOME/tsbuild/config.json`, else `~/.config/tsbuild/config.json`. */
export function configFilePath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TSBUILD_CONFIG) return env.TSBUILD_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'tsbuild', 'config.json');
}

export async function readConfigFile(path: string): Promise<RegistryConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw e;
  }
  const v = JSON.parse(text) as RegistryConfigFile;
  const list = (x: unknown): string[] => (Array.isArray(x) ? x.filter((s): s is string => typeof s === 'string') : []);
  return { registryMirrors: list(v.registryMirrors), insecureRegistries: list(v.insecureRegistries) };
}

/**
 * Completes options as users configure them: explicit values first, then TSBUILD_REGISTRY_MIRROR /
 * TSBUILD_INSECURE_REGISTRY / TSBUILD_REGISTRY_RETRY_SECONDS, then the config file. Duplicates are dropped, order kept.
 */
export async function resolveRegistryOptions(
  opts: RegistryOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RegistryOptions> {
  const file = await readConfigFile(configFilePath(env));
  const uniq = (xs: string[]): string[] => [...new Set(xs)];
  const retrySeconds = opts.retrySeconds ?? retrySecondsFromEnv(env);
  return {
    ...opts,
    ...(retrySeconds !== undefined ? { retrySeconds } : {}),
    mirrors: uniq([
      ...(opts.mirrors ?? []),
      ...splitList(env.TSBUILD_REGISTRY_MIRROR),
      ...(file.registryMirrors ?? []),
    ]),
    insecure: uniq([
      ...(opts.insecure ?? []),
      ...splitList(env.TSBUILD_INSECURE_REGISTRY),
      ...(file.insecureRegistries ?? []),
    ]),
  };
}
