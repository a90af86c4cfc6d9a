// The build's user view around a build: renderer choice, --report and --explain-cache after the last event.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { BuildEvent } from '../../builder/events.js';
import { startBuildView } from '../../cli/progress/session.js';
import { isProgressMode, resolveMode } from '../../cli/progress/select.js';
import { sampleEvents } from './fixtures/sample-events.mjs';

const dir = mkdtempSync(join(tmpdir(), 'tsbuild-session-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

describe('progress mode', () => {
  it('auto is the live view on a terminal, plain lines elsewhere', () => {
    expect(resolveMode('auto', { isTTY: true } as never, { TERM: 'xterm' })).toBe('tty');
    expect(resolveMode('auto', { isTTY: true } as never, { TERM: 'dumb' })).toBe('plain');
    expect(resolveMode('auto', {} as never, {})).toBe('plain');
    expect(resolveMode('json', { isTTY: true } as never, {})).toBe('json');
    expect(isProgressMode('tty')).toBe(true);
    expect(isProgressMode('fancy')).toBe(false);
  });
});

describe('startBuildView', () => {
  it('writes the report and explains the cache misses after the build', async () => {
    const out = capture();
    const report = join(dir, 'r.json');
    const view = await startBuildView({ progress: 'quiet', report, explainCache: true, stream: out.stream });
    for (const e of sampleEvents() as BuildEvent[]) view.onEvent(e);
    await view.finish();
    expect(JSON.parse(readFileSync(report, 'utf8')).steps).toHaveLength(6);
    expect(out.text()).toContain('Rebuilt 4 of 6 steps:');
    expect(out.text()).toContain('because file changed: /out/app');
  });

  it('the tty view on a stream that is not a terminal still ends in the summary', async () => {
    const out = capture();
    const view = await startBuildView({ progress: 'tty', stream: out.stream });
    for (const e of sampleEvents() as BuildEvent[]) view.onEvent(e);
    await view.finish();
    expect(out.text().trimEnd().split('\n').pop()).toMatch(/^Built sha256:e{12} in 2\.8s: 6 steps, 2 cached$/);
  });
});

describe('startBuildView and signals', () => {
  it('SIGINT aborts the build signal, and finish() then throws the interruption (exit 130)', async () => {
    const out = capture();
    const view = await startBuildView({ progress: 'quiet', stream: out.stream });
    expect(view.signal.aborted).toBe(false);
    const listeners = process.listenerCount('SIGINT');
    process.kill(process.pid, 'SIGINT');
    await new Promise<void>((resolve) => view.signal.addEventListener('abort', () => resolve(), { once: true }));
    expect(view.interrupted?.signal).toBe('SIGINT');
    await expect(view.finish()).rejects.toMatchObject({
      name: 'InterruptedError',
      exitCode: 130,
      message: 'interrupted (SIGINT)',
    });
    expect(process.listenerCount('SIGINT')).toBe(listeners - 1);
  });

  it('API users keep their own signal handling', async () => {
    const before = process.listenerCount('SIGINT');
    const view = await startBuildView({ progress: 'quiet', handleSignals: false, stream: capture().stream });
    expect(process.listenerCount('SIGINT')).toBe(before);
    await view.finish();
  });
});
