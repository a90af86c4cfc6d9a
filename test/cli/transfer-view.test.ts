// Pulls and pushes in the live view, against a real docker-registry: the base comes through a docker.io mirror
// (--registry-mirror), the result is pushed (--push); both end as lines with their blob count and size.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { seedBusybox } from '../fixtures/images.js';
import { runOnPty } from './helpers/pty.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(repo, 'bin/tsbuild');
let registry: RegistryFixture;
let work: string;

beforeAll(async () => {
  registry = await startRegistry();
  await seedBusybox(registry.host);
  work = mkdtempSync(join(tmpdir(), 'tsbuild-transfer-'));
  mkdirSync(join(work, 'ctx'));
  writeFileSync(join(work, 'ctx', 'Buildfile'), 'FROM busybox:latest\nRUN echo pushed-by-tsbuild > /note\n');
});

afterAll(async () => {
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('transfers in the live view', () => {
  it('shows the pull through the mirror and the push, with blob counts and sizes', async () => {
    const target = `${registry.host}/cli/transfer:1`;
    const cmd = `'${bin}' --root '${join(work, 'root')}' --registry-mirror http://${registry.host} --insecure-registry ${registry.host} build --progress=tty --push -t ${target} '${join(work, 'ctx')}'`;
    const r = await runOnPty(cmd, { columns: 140, rows: 30, cwd: repo, timeoutMs: 300_000 });
    const screen = r.screen.join('\n');
    expect(r.status, screen).toBe(0);
    expect(screen).toMatch(/=> pulled docker\.io\/library\/busybox:latest \(\d+ blobs?, [\d.]+[kM]?B\) +[\d.]+s/);
    expect(screen).toContain(`=> pushed ${target}`);
    expect(screen).toMatch(/=> pushed \S+ \(\d+ blobs?, [\d.]+[kM]?B\) +[\d.]+s/);
    expect(screen).toMatch(/^Built sha256:[0-9a-f]{12} in [\d.]+s: 2 steps, 0 cached$/m);
  });
});
