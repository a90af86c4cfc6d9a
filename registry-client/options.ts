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
  /** Retries after the first attempt on resets, timeouts, 5xx and 429 (default 5). */
  retries?: number;
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
 * TSBUILD_INSECURE_REGISTRY, then the config file. Duplicates are dropped, order kept.
 */
export async function resolveRegistryOptions(opts: RegistryOptions, env: NodeJS.ProcessEnv = process.env): Promise<RegistryOptions> {
  const file = await readConfigFile(configFilePath(env));
  const uniq = (xs: string[]): string[] => [...new Set(xs)];
  return {
    ...opts,
    mirrors: uniq([...(opts.mirrors ?? []), ...splitList(env.TSBUILD_REGISTRY_MIRROR), ...(file.registryMirrors ?? [])]),
    insecure: uniq([...(opts.insecure ?? []), ...splitList(env.TSBUILD_INSECURE_REGISTRY), ...(file.insecureRegistries ?? [])]),
  };
}
