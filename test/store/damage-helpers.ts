// Helpers for the damage and leftover tests: bin/tsbuild as a real child process, a small context, mount points.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** TSBUILD_TEST_BIN runs another checkout's CLI (to show a test fails on the code before a fix). */
export const TSBUILD = process.env.TSBUILD_TEST_BIN ?? new URL('../../bin/tsbuild', import.meta.url).pathname;

export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function start(
  root: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { child: ChildProcess; done: Promise<Ran> } {
  const child = spawn(TSBUILD, ['--root', root, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<Ran>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

export function tsb(root: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  return start(root, args, env).done;
}

/** A context dir with a Buildfile and files name → content. */
export async function context(dir: string, buildfile: string, files: Record<string, Buffer | string>): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'Buildfile'), buildfile);
  for (const [name, data] of Object.entries(files)) await writeFile(join(dir, name), data);
  return dir;
}

/** Mount points at or under `dir` in this mount namespace (the one tsbuild's views are mounted in). */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[4]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((m) => m === dir || m.startsWith(dir + '/'));
}

/** Deterministic incompressible-looking bytes. */
export function noise(n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}
