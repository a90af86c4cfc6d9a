// The live view on a real pseudo-terminal, fed a recorded event stream by test/cli/fixtures/replay-tty.mjs (the
// real renderer, the real log-update, a real tmux terminal): it redraws in place and ends in the summary.
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { runOnPty } from './helpers/pty.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const replay = 'node test/cli/fixtures/replay-tty.mjs';
const count = (s: string, sub: string) => s.split(sub).length - 1;

describe('tty live view on a pty (recorded events)', () => {
  it('redraws in place while steps run and collapses to every step plus a summary', async () => {
    const r = await runOnPty(replay, { columns: 100, rows: 30, cwd: repo });
    expect(r.status).toBe(0);
    // Several frames were drawn, each erasing the previous one (cursor up + erase line) rather than appending.
    expect(count(r.raw, '[+] Building')).toBeGreaterThan(3);
    expect(r.raw).toContain('\u001b[2K');
    expect(r.raw).toContain('\u001b[1A');
    // While the RUN step ran, its output tail and the pull bar were on screen.
    expect(r.raw).toContain('=> => # compiling unit');
    expect(r.raw).toMatch(
      /pulling docker\.io\/library\/busybox:latest .*\[=*>? *\] [\d.]+[kM]?B \/ 2\.00MB [\d.]+[kM]?B\/s/,
    );
    // The screen left behind: one header, every step once, no output tail, the summary last.
    const screen = r.screen.join('\n');
    expect(count(screen, '[+] Building')).toBe(1);
    expect(screen).toMatch(/\[\+\] Building [\d.]+s \(6\/6\) FINISHED/);
    for (const s of ['[builder 1/3]', '[builder 2/3]', '[builder 3/3]', '[0 1/3]', '[0 2/3]', '[0 3/3]'])
      expect(count(screen, s)).toBe(1);
    expect(screen).toMatch(/CACHED \[builder 1\/3\] FROM busybox:latest AS builder +0\.0s/);
    expect(screen).not.toContain('=> => #');
    expect(r.screen[r.screen.length - 1]).toMatch(/^Built sha256:e{12} in [\d.]+s: 6 steps, 2 cached$/);
  });

  it('keeps a failed step and its last output on screen', async () => {
    const r = await runOnPty(`${replay} --fail`, { columns: 100, rows: 30, cwd: repo });
    expect(r.status).toBe(1);
    const screen = r.screen.join('\n');
    expect(screen).toMatch(/FAILED/);
    expect(screen).toMatch(/ERROR \[builder 2\/3\] RUN echo compiling/);
    expect(screen).toContain('=> => # compiling unit 8 of 8');
    expect(r.screen[r.screen.length - 1]).toMatch(/^Build failed after [\d.]+s: 2 steps, 1 cached$/);
  });

  it('fits every line to a narrow terminal', async () => {
    const r = await runOnPty(replay, { columns: 50, rows: 30, cwd: repo });
    for (const l of r.screen) expect(l.length).toBeLessThan(50);
    expect(r.screen.join('\n')).toMatch(/\[builder 3\/3\] RUN mkdir.*… +[\d.]+s/);
  });
});
