// Shared bits of the remote cache tests: the real CLI against a store root, build events, temp dirs, and the
// contexts the tests build.
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildEvent } from '../../builder/events.js';
import { afterAll, beforeAll } from 'vitest';
import { seedBusybox } from '../fixtures/images.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { tempDirs as registryTempDirs, type TempDirs } from '../registry/helpers.js';

export const BIN = fileURLToPath(new URL('../../bin/tsbuild', import.meta.url));
export const EPOCH = '1700000000';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  events: BuildEvent[];
}

/**
 * `tsbuild --root ROOT build --progress=json …` with SOURCE_DATE_EPOCH set; fails the test on a non-zero exit unless
 * `allowFail`.
 */
export function build(
  root: string,
  registryHost: string,
  args: string[],
  opts: { allowFail?: boolean; env?: NodeJS.ProcessEnv } = {},
): Run {
  const r = spawnSync(BIN, ['--root', root, '--insecure-registry', registryHost, 'build', '--progress=json', ...args], {
    encoding: 'utf8',
    env: { ...process.env, SOURCE_DATE_EPOCH: EPOCH, ...opts.env },
    maxBuffer: 64 << 20,
    timeout: 600_000,
  });
  const events = parseEvents(`${r.stdout}\n${r.stderr}`);
  const run = { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, events };
  if (run.code !== 0 && !opts.allowFail)
    throw new Error(`tsbuild build ${args.join(' ')} failed (${run.code}):\n${r.stderr}\n${r.stdout}`);
  return run;
}

/**
 * `CACHED|RAN stage: instruction` for every step but FROM (a base image pulled into an empty store is not a cache hit).
 */
export function steps(run: Run): string[] {
  return run.events.flatMap((e) =>
    e.type === 'step-end' && !e.step.instruction.startsWith('FROM')
      ? [`${e.cached ? 'CACHED' : 'RAN'} ${e.step.stage}: ${e.step.instruction}`]
      : [],
  );
}

export function manifestDigest(run: Run): string | undefined {
  const end = run.events.find((e) => e.type === 'build-end');
  return end?.type === 'build-end' ? end.manifestDigest : undefined;
}

/** Layer digests of the steps of one stage, from step-end events. */
export function stageLayers(run: Run, stage: string): string[] {
  return run.events.flatMap((e) =>
    e.type === 'step-end' && e.step.stage === stage && e.layer ? [e.layer.digest] : [],
  );
}

export function logs(run: Run): string[] {
  return run.events.flatMap((e) => (e.type === 'log' ? [`${e.level}: ${e.message}`] : []));
}

/** Temp dirs removed together at the end of a test file (prefix `tsbuild-rcache-` by default). */
export function tempDirs(): TempDirs {
  const dirs = registryTempDirs();
  return { make: (prefix = 'tsbuild-rcache-') => dirs.make(prefix), cleanup: () => dirs.cleanup() };
}

export async function writeContext(dir: string, files: Record<string, string>): Promise<string> {
  for (const [f, c] of Object.entries(files)) {
    await mkdir(join(dir, f, '..'), { recursive: true });
    await writeFile(join(dir, f), c);
  }
  return dir;
}

/** The same as `build`, without blocking: for builds that must overlap. */
export function buildAsync(root: string, registryHost: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      BIN,
      ['--root', root, '--insecure-registry', registryHost, 'build', '--progress=json', ...args],
      {
        env: { ...process.env, SOURCE_DATE_EPOCH: EPOCH },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const events = parseEvents(`${stdout}\n${stderr}`);
      if (code !== 0) reject(new Error(`tsbuild build ${args.join(' ')} failed (${code}):\n${stderr}`));
      else resolve({ code: 0, stdout, stderr, events });
    });
  });
}

function parseEvents(text: string): BuildEvent[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as BuildEvent];
      } catch {
        return [];
      }
    });
}

/** The digest an export reported (`exported cache to … : sha256:…`). */
export function exportedDigests(run: Run): string[] {
  return logs(run).flatMap((l) => /exported cache to .*: (sha256:[a-f0-9]{64})$/.exec(l)?.[1] ?? []);
}

export interface SeededRegistry {
  /** host:port of the registry (plain HTTP). */
  host: string;
  /** The busybox base image seeded into it (`host/library/busybox:latest`). */
  base: string;
}

/**
 * A docker-registry of the test file's own, started and seeded with busybox before its tests (filled in then) and
 * stopped after them, together with `tmp`'s directories.
 */
export function seededRegistry(tmp: TempDirs): SeededRegistry {
  const out: SeededRegistry = { host: '', base: '' };
  let fixture: RegistryFixture | undefined;
  beforeAll(async () => {
    fixture = await startRegistry();
    out.host = fixture.host;
    out.base = await seedBusybox(fixture.host);
  });
  afterAll(async () => {
    await fixture?.stop();
    await tmp.cleanup();
  });
  return out;
}
