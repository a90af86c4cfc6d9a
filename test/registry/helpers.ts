// Shared bits of the registry tests: temp dirs, a docker config.json with credentials, skopeo inspect.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TempDirs {
  make(prefix?: string): Promise<string>;
  cleanup(): Promise<void>;
}

export function tempDirs(): TempDirs {
  const dirs: string[] = [];
  return {
    async make(prefix = 'tsbuild-regtest-') {
      const d = await mkdtemp(join(tmpdir(), prefix));
      dirs.push(d);
      return d;
    },
    async cleanup() {
      await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
    },
  };
}

/** A config.json with `auths` for host (or none) in a fresh dir; returns its path. */
export async function dockerConfig(dir: string, host: string, user?: string, password?: string): Promise<string> {
  const path = join(dir, 'config.json');
  const auths = user ? { [host]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } } : {};
  await writeFile(path, JSON.stringify({ auths }));
  return path;
}

export async function skopeoInspect(ref: string, creds?: string, raw = false): Promise<Record<string, unknown>> {
  const { stdout } = await run('skopeo', [
    'inspect',
    ...(raw ? ['--raw'] : []),
    '--tls-verify=false',
    ...(creds ? ['--creds', creds] : []),
    `docker://${ref}`,
  ]);
  return JSON.parse(stdout) as Record<string, unknown>;
}
