// The chroot helper runs as root: it must come only from a directory that root alone can change, never from a
// user's cache, and never be built by a compiler named in the environment.
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { makeEnv, type Env } from './helpers.js';

const SOURCE = fileURLToPath(new URL('../../runtime/helper/tsbuild-exec.c', import.meta.url));
const helperName = (): string =>
  `tsbuild-exec-${createHash('sha256').update(readFileSync(SOURCE)).digest('hex').slice(0, 16)}`;

let env: Env;
const saved = { XDG_CACHE_HOME: process.env.XDG_CACHE_HOME, CC: process.env.CC, PATH: process.env.PATH };

beforeAll(async () => {
  env = await makeEnv();
});
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});
afterAll(async () => {
  await env?.close();
});

/** A script that leaves `marker` behind when something executes it. */
function evilScript(path: string, marker: string): void {
  writeFileSync(path, `#!/bin/sh\necho ran > ${marker}\nexit 1\n`, { mode: 0o755 });
}

const echo = (helperDir?: string) =>
  env.run(['/bin/echo', 'fine'], { isolation: 'chroot', ...(helperDir ? { helperDir } : {}) });

test('a helper directory writable by group or others is refused, naming it', async () => {
  const dir = join(env.base, 'open-helper');
  mkdirSync(dir);
  chmodSync(dir, 0o775);
  await expect(echo(dir)).rejects.toThrow(`${dir} is writable by group or others (mode 0775); run chmod go-w ${dir}`);
});

test('a helper directory below a directory writable by others is refused, naming the parent', async () => {
  const parent = join(env.base, 'open-parent');
  mkdirSync(parent);
  chmodSync(parent, 0o777);
  const dir = join(parent, 'helper');
  await expect(echo(dir)).rejects.toThrow(`${parent} is writable by group or others (mode 0777)`);
  expect(existsSync(dir)).toBe(false);
});

test('a helper directory owned by another user is refused', async () => {
  const dir = join(env.base, 'foreign-helper');
  mkdirSync(dir, { mode: 0o755 });
  chownSync(dir, 65534, 65534);
  await expect(echo(dir)).rejects.toThrow(`${dir} is owned by uid 65534, not root; run chown root ${dir}`);
});

test('a group-writable binary in the helper directory is refused, not run', async () => {
  const dir = join(env.base, 'planted-helper');
  mkdirSync(dir, { mode: 0o700 });
  const marker = join(env.base, 'planted-ran');
  evilScript(join(dir, helperName()), marker);
  chmodSync(join(dir, helperName()), 0o775);
  await expect(echo(dir)).rejects.toThrow(/is owned by uid 0 with mode 0775; remove it/);
  expect(existsSync(marker)).toBe(false);
});

test('a binary planted in the old user cache location is not run', async () => {
  const cache = join(env.base, 'xdg-cache');
  mkdirSync(join(cache, 'tsbuild/bin'), { recursive: true });
  const marker = join(env.base, 'cache-ran');
  evilScript(join(cache, 'tsbuild/bin', helperName()), marker);
  process.env.XDG_CACHE_HOME = cache;
  const r = await echo();
  expect([r.exitCode, r.stdout]).toEqual([0, 'fine\n']);
  expect(existsSync(marker)).toBe(false);
});

test('$CC and a cc early in $PATH are not executed to build the helper', async () => {
  const marker = join(env.base, 'cc-ran');
  const evilBin = join(env.base, 'evil-bin');
  mkdirSync(evilBin);
  evilScript(join(env.base, 'evil-cc'), marker);
  for (const name of ['cc', 'gcc']) evilScript(join(evilBin, name), marker);
  process.env.CC = join(env.base, 'evil-cc');
  process.env.PATH = `${evilBin}:${process.env.PATH}`;
  const dir = join(env.base, 'fresh-helper'); // empty: the helper must be compiled now
  const r = await echo(dir);
  expect([r.exitCode, r.stdout]).toEqual([0, 'fine\n']);
  expect(existsSync(marker)).toBe(false);
  expect(existsSync(join(dir, helperName()))).toBe(true);
});
