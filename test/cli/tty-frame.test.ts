// The live view's frames, drawn from the model without a terminal: fitting the height, output tails, transfers.
import { describe, expect, it } from 'vitest';
import type { BuildEvent, StepRef } from '../../builder/events.js';
import { apply, newViewState } from '../../cli/progress/tty/state.js';
import { cleanOutputLine, drawFrame } from '../../cli/progress/tty/frame.js';

const ref = (index: number, total = 30): StepRef => ({
  stage: '0',
  index,
  total,
  instruction: `RUN step ${index}`,
  line: index,
});

function stateOf(events: BuildEvent[]) {
  const s = newViewState();
  for (const e of events) apply(s, e);
  return s;
}

describe('tty frames', () => {
  it('a frame taller than the terminal drops the oldest finished steps, never a running one', () => {
    const ev: BuildEvent[] = [{ type: 'build-start', time: 0, stages: [{ name: '0', dependsOn: [] }] }];
    for (let i = 1; i <= 29; i++) {
      ev.push({ type: 'step-start', time: i, step: ref(i) });
      ev.push({ type: 'step-end', time: i + 1, step: ref(i), cached: false, durationMs: 1 });
    }
    ev.push({ type: 'step-start', time: 40, step: ref(30) });
    for (let i = 0; i < 10; i++)
      ev.push({ type: 'step-output', time: 41, step: ref(30), stream: 'stdout', line: `out ${i}` });
    const lines = drawFrame(stateOf(ev), { now: 50, columns: 80, maxLines: 12, color: false });
    expect(lines.length).toBeLessThanOrEqual(12);
    expect(lines[0]).toBe('[+] Building 0.1s (29/30)');
    expect(lines.some((l) => /=> \.\.\. \d+ earlier steps done/.test(l))).toBe(true);
    expect(lines.some((l) => l.startsWith(' => [0 30/30] RUN step 30'))).toBe(true);
    expect(lines.some((l) => l.includes('# out 9'))).toBe(true);
    // The final frame is not limited: every step is there, then the summary.
    const final = drawFrame(
      stateOf([
        ...ev,
        { type: 'step-end', time: 60, step: ref(30), cached: false, durationMs: 20 },
        { type: 'build-end', time: 61, ok: true, imageId: 'sha256:' + '1'.repeat(64) },
      ]),
      { now: 70, columns: 80, color: false },
    );
    expect(final.filter((l) => l.startsWith(' => [0 '))).toHaveLength(30);
    expect(final[final.length - 1]).toBe('Built sha256:111111111111 in 0.1s: 30 steps, 0 cached');
  });

  it('draws informational lines (a Git source resolved to its commit) under the header, warnings apart', () => {
    const message = `resolved https://host/org/repo.git#main to ${'a'.repeat(40)}`;
    const lines = drawFrame(
      stateOf([
        { type: 'build-start', time: 0, stages: [{ name: '0', dependsOn: [] }] },
        { type: 'log', time: 1, level: 'info', message },
        { type: 'log', time: 2, level: 'warn', message: 'careful' },
      ]),
      { now: 5, columns: 120, maxLines: 20, color: false },
    );
    expect(lines[1]).toBe(` => ${message}`);
    expect(lines).toContain(' => WARN: careful');
    expect(lines.filter((l) => l.includes('careful'))).toHaveLength(1);
  });

  it("shows only the last lines of a step's output, cleaned of escapes and carriage returns", () => {
    const ev: BuildEvent[] = [{ type: 'step-start', time: 0, step: ref(1, 1) }];
    for (let i = 0; i < 9; i++)
      ev.push({ type: 'step-output', time: 1, step: ref(1, 1), stream: 'stdout', line: `line ${i}` });
    const lines = drawFrame(stateOf(ev), { now: 5, columns: 80, maxLines: 40, color: false });
    expect(lines.filter((l) => l.includes('=> => #')).map((l) => l.trim())).toEqual(
      ['line 3', 'line 4', 'line 5', 'line 6', 'line 7', 'line 8'].map((l) => `=> => # ${l}`),
    );
    expect(cleanOutputLine('\u001b[31mred\u001b[0m\tx')).toBe('red  x');
    expect(cleanOutputLine('10%\r50%\r100%')).toBe('100%');
  });

  it('a pull shows a bar with bytes and speed, then its total once done', () => {
    const d = 'sha256:' + 'a'.repeat(64);
    const p = (time: number, current: number): BuildEvent => ({
      type: 'pull-progress',
      time,
      ref: 'docker.io/library/alpine:3',
      digest: d,
      current,
      total: 4_000_000,
    });
    const running = drawFrame(stateOf([p(0, 0), p(1000, 1_000_000)]), {
      now: 1000,
      columns: 120,
      maxLines: 20,
      color: false,
    });
    expect(running[1]).toMatch(
      /^ => pulling docker\.io\/library\/alpine:3 \(1 blob\) +\[====> {15}\] 1\.00MB \/ 4\.00MB 1\.00MB\/s$/,
    );
    const done = drawFrame(stateOf([p(0, 0), p(2000, 4_000_000)]), {
      now: 2000,
      columns: 120,
      maxLines: 20,
      color: false,
    });
    expect(done[1]).toMatch(/^ => pulled docker\.io\/library\/alpine:3 \(1 blob, 4\.00MB\) +2\.0s$/);
  });
});
