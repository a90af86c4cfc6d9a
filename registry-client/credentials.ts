// Credentials as Docker keeps them: ~/.docker/config.json `auths` (base64 user:password), `credHelpers` per
// registry and `credsStore` for all, the helpers being `docker-credential-NAME get` programs.
import { spawn } from 'node:child_process';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { RegistryError } from './errors.js';

export interface Credentials {
  username: string;
  password: string;
  /** An identity (refresh) token: docker-credential helpers return username `<token>` for these. */
  identityToken?: string;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

export interface DockerConfig {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
  [k: string]: unknown;
}

export function defaultDockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DOCKER_CONFIG) return join(env.DOCKER_CONFIG, 'config.json');
  return join(env.HOME || homedir(), '.docker', 'config.json');
}

/** The keys under which a registry's entry may appear (Docker Hub's legacy `https://index.docker.io/v1/` first). */
export function configKeys(registry: string): string[] {
  if (registry === 'docker.io' || registry === 'index.docker.io' || registry === 'registry-1.docker.io') {
    return [
      'https://index.docker.io/v1/',
      'index.docker.io',
      'docker.io',
      'registry-1.docker.io',
      'https://registry-1.docker.io',
    ];
  }
  return [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`, `https://${registry}/v2/`];
}

/** The key `login` writes for a registry. */
export function loginKey(registry: string): string {
  return configKeys(registry)[0]!;
}

export async function readDockerConfig(path: string): Promise<DockerConfig> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as DockerConfig;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new RegistryError(`cannot read ${path}: ${(e as Error).message}`, { registry: '(config)', cause: e });
  }
}

function decodeEntry(e: AuthEntry): Credentials | undefined {
  if (e.identitytoken) return { username: '<token>', password: '', identityToken: e.identitytoken };
  if (e.auth) {
    const text = Buffer.from(e.auth, 'base64').toString('utf8');
    const i = text.indexOf(':');
    if (i > 0) return { username: text.slice(0, i), password: text.slice(i + 1) };
  }
  if (e.username && e.password) return { username: e.username, password: e.password };
  return undefined;
}

/** Runs `docker-credential-NAME get` with the server URL on stdin. Undefined when the helper knows no credentials. */
export function runCredentialHelper(name: string, server: string): Promise<Credentials | undefined> {
  return new Promise((resolve, reject) => {
    const child = spawn(`docker-credential-${name}`, ['get'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) =>
      reject(
        new RegistryError(`credential helper docker-credential-${name} failed: ${e.message}`, {
          registry: server,
          cause: e,
          hint: `install docker-credential-${name} or remove it from config.json`,
        }),
      ),
    );
    child.on('close', (code) => {
      if (code !== 0) {
        if (/credentials not found/i.test(out + err)) return resolve(undefined);
        return reject(
          new RegistryError(`credential helper docker-credential-${name} exited ${code}: ${(out + err).trim()}`, {
            registry: server,
          }),
        );
      }
      try {
        const v = JSON.parse(out) as { Username?: string; Secret?: string };
        if (!v.Secret) return resolve(undefined);
        if (v.Username === '<token>') return resolve({ username: '<token>', password: '', identityToken: v.Secret });
        resolve({ username: v.Username ?? '', password: v.Secret });
      } catch (e) {
        reject(
          new RegistryError(`credential helper docker-credential-${name} printed invalid JSON`, {
            registry: server,
            cause: e,
          }),
        );
      }
    });
    child.stdin.end(server);
  });
}

/** Looks a registry up in the given config files (first hit wins): auths, then credHelpers, then credsStore. */
export async function lookupCredentials(registry: string, configPaths: string[]): Promise<Credentials | undefined> {
  for (const path of configPaths) {
    const cfg = await readDockerConfig(path);
    const keys = configKeys(registry);
    const helper = keys.map((k) => cfg.credHelpers?.[k]).find(Boolean);
    if (helper) {
      const c = await runCredentialHelper(helper, keys[0]!);
      if (c) return c;
    }
    for (const k of keys) {
      const e = cfg.auths?.[k];
      const c = e && decodeEntry(e);
      if (c) return c;
    }
    if (cfg.credsStore) {
      const c = await runCredentialHelper(cfg.credsStore, keys[0]!);
      if (c) return c;
    }
  }
  return undefined;
}

async function writeConfigAtomically(path: string, cfg: DockerConfig): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify(cfg, null, '\t') + '\n', { mode: 0o600 });
  await rename(tmp, path);
}

/** Records credentials in config.json `auths` (base64 `user:password`), as `docker login` does without a helper. */
export async function storeCredentials(path: string, registry: string, c: Credentials): Promise<void> {
  const cfg = await readDockerConfig(path);
  cfg.auths ??= {};
  for (const k of configKeys(registry)) delete cfg.auths[k];
  cfg.auths[loginKey(registry)] = { auth: Buffer.from(`${c.username}:${c.password}`).toString('base64') };
  await writeConfigAtomically(path, cfg);
}

/** Removes a registry's entries; false when there were none. */
export async function removeCredentials(path: string, registry: string): Promise<boolean> {
  const cfg = await readDockerConfig(path);
  let removed = false;
  for (const k of configKeys(registry)) {
    if (cfg.auths?.[k]) {
      delete cfg.auths[k];
      removed = true;
    }
  }
  if (removed) await writeConfigAtomically(path, cfg);
  return removed;
}
