// Every exit waits for stdout and stderr to drain: a large output into a pipe whose reader is slow arrives whole
// (Node writes to a pipe asynchronously, and exiting used to drop what the pipe had not yet taken: all but 64 KiB).
// The exit with a failure status is in test/cli/image-id.test.ts (`run` of a command that prints, then exits 3).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../../bin/tsbuild', import.meta.url));
let dir: string;
let big: string;

/** Runs `script` in sh with $T set to the CLI; returns its stdout, trimmed. */
function sh(script: string): { status: number | null; out: string } {
  const r = spawnSync('sh', ['-c', script], { encoding: 'utf8', env: { ...process.env, T: bin, D: dir } });
  return { status: r.status, out: r.stdout.trim() };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsbuild-flush-'));
  big = join(dir, 'Buildfile');
  // about 1 MiB of `parse --json` output, many times a pipe's 64 KiB buffer
  const lines = ['FROM busybox'];
  for (let i = 0; i < 3000; i++) lines.push(`RUN echo step ${i} ${'x'.repeat(60)}`);
  writeFileSync(big, lines.join('\n') + '\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('output is flushed before the process exits', () => {
  it('parse --json into a slow pipe delivers every byte (as much as into a file)', () => {
    const file = sh(`"$T" parse --json "$D/Buildfile" > "$D/out.json"; echo $?`);
    expect(file.out).toBe('0');
    const size = statSync(join(dir, 'out.json')).size;
    expect(size).toBeGreaterThan(512 * 1024);
    const piped = sh(`"$T" parse --json "$D/Buildfile" | (sleep 1; wc -c)`);
    expect(Number(piped.out)).toBe(size);
  });
  it('Ctrl-C while the output waits for a slow reader: the output still arrives whole', async () => {
    expect(sh(`"$T" parse --json "$D/Buildfile" > "$D/sigint.json"`).status).toBe(0);
    const size = statSync(join(dir, 'sigint.json')).size;
    const child = spawn(bin, ['parse', '--json', big], { stdio: ['ignore', 'pipe', 'ignore'] });
    const closed = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    // nothing is read until the signal has been sent: the output waits in the pipe and in tsbuild's buffers
    child.stdout.pause();
    await new Promise((r) => setTimeout(r, 1000));
    child.kill('SIGINT');
    let bytes = 0;
    child.stdout.on('data', (c: Buffer) => (bytes += c.length));
    child.stdout.resume();
    const code = await closed;
    expect(bytes).toBe(size);
    // the command had done its work: it exits as it would have, not as interrupted half-way
    expect(code).toBe(0);
  });
  it('a second Ctrl-C while the exit waits for a reader that never reads: it exits at once, 130', async () => {
    const child = spawn(bin, ['parse', '--json', big], { stdio: ['ignore', 'pipe', 'ignore'] });
    const closed = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    child.stdout.pause();
    await new Promise((r) => setTimeout(r, 1000));
    child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 300));
    // the first one lets the output drain: still waiting for the reader
    expect(child.exitCode).toBeNull();
    child.kill('SIGINT');
    expect(await closed).toBe(130);
    child.stdout.destroy();
  });
});
