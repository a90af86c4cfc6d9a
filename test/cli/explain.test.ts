// why-rebuilt: which input made each rebuilt step miss the cache.
import { describe, expect, it } from 'vitest';
import type { BuildEvent, StepRef } from '../../builder/events.js';
import { classifyReason, explainCache, formatExplanation, parseEventLog, REASONS } from '../../cli/explain.js';
import { buildReport } from '../../cli/report/model.js';
import { sampleEvents } from './fixtures/sample-events.mjs';

const step = (index: number, instruction = `RUN step ${index}`): StepRef => ({
  stage: 'app',
  index,
  total: 4,
  instruction,
  line: index + 1,
});

describe('explainCache', () => {
  it('names the changed input for each kind of reason', () => {
    expect(classifyReason('file changed: src/main.ts')).toEqual({ kind: 'file', subject: 'src/main.ts' });
    expect(classifyReason('build arg changed: VERSION')).toEqual({ kind: 'arg', subject: 'VERSION' });
    expect(classifyReason('instruction changed')).toEqual({ kind: 'instruction' });
    expect(classifyReason('no cache record')).toEqual({ kind: 'no-record' });
    expect(classifyReason('parent changed')).toEqual({ kind: 'parent' });
    expect(classifyReason('base image changed: busybox:latest')).toEqual({ kind: 'base', subject: 'busybox:latest' });
    expect(classifyReason('the moon is full')).toEqual({ kind: 'other' });
    for (const r of REASONS) expect(classifyReason(r.prefix).kind).toBe(r.kind);
  });

  it('skips cached steps and traces a parent change back to the step that began the rebuilds', () => {
    const ev: BuildEvent[] = [
      { type: 'step-cached', time: 1, step: step(1, 'FROM busybox') },
      { type: 'step-end', time: 1, step: step(1, 'FROM busybox'), cached: true, durationMs: 0 },
      { type: 'cache-miss', time: 2, step: step(2), reason: 'build arg changed: VERSION' },
      { type: 'step-start', time: 2, step: step(2) },
      { type: 'step-end', time: 3, step: step(2), cached: false, durationMs: 1 },
      { type: 'cache-miss', time: 3, step: step(3), reason: 'parent changed' },
      { type: 'step-start', time: 3, step: step(3) },
      { type: 'step-end', time: 4, step: step(3), cached: false, durationMs: 1 },
      { type: 'cache-miss', time: 4, step: step(4), reason: 'parent changed' },
      { type: 'step-start', time: 4, step: step(4) },
      { type: 'step-end', time: 5, step: step(4), cached: false, durationMs: 1 },
    ];
    const x = explainCache(ev);
    expect(x.map((e) => [e.step.index, e.kind, e.subject, e.cause?.step.index])).toEqual([
      [2, 'arg', 'VERSION', undefined],
      [3, 'parent', undefined, 2],
      [4, 'parent', undefined, 2],
    ]);
    const text = formatExplanation(x, 4);
    expect(text).toContain('Rebuilt 3 of 4 steps:');
    expect(text).toContain('[app 2/4] RUN step 2  (line 3)\n      because build arg changed: VERSION');
    expect(text).toContain(
      '[app 4/4] RUN step 4  (line 5)\n      because parent changed: [app 2/4] was rebuilt (build arg changed: VERSION)',
    );
  });

  it('says when nothing was rebuilt, and when a step ran without a recorded reason', () => {
    expect(formatExplanation(explainCache([{ type: 'step-cached', time: 1, step: step(1) }]))).toMatch(
      /nothing was rebuilt/,
    );
    const x = explainCache([{ type: 'step-start', time: 1, step: step(1) }]);
    expect(x).toEqual([{ step: step(1), kind: 'unknown', reason: 'no reason recorded' }]);
  });

  it('reads the same answer from a --report JSON as from the events', () => {
    const ev = sampleEvents() as BuildEvent[];
    const fromReport = explainCache(parseEventLog(JSON.stringify(buildReport(ev)), 'r.json'));
    expect(fromReport.map((x) => [x.step.stage, x.step.index, x.reason, x.cause?.step.index])).toEqual(
      explainCache(ev).map((x) => [x.step.stage, x.step.index, x.reason, x.cause?.step.index]),
    );
    expect(fromReport.map((x) => x.kind)).toEqual(['instruction', 'parent', 'file', 'no-record']);
  });
});

describe('explainCache across stages', () => {
  it('follows `FROM other-stage` back to the step that changed in that stage', () => {
    const base = (i: number, instruction: string): StepRef => ({
      stage: 'base',
      index: i,
      total: 2,
      instruction,
      line: i,
    });
    const app = (i: number, instruction: string): StepRef => ({
      stage: 'app',
      index: i,
      total: 2,
      instruction,
      line: 10 + i,
    });
    const ev: BuildEvent[] = [
      { type: 'step-start', time: 1, step: base(1, 'FROM busybox') },
      { type: 'step-cached', time: 1, step: base(1, 'FROM busybox') },
      { type: 'cache-miss', time: 2, step: base(2, 'RUN make deps'), reason: 'build arg changed: DEPS' },
      { type: 'step-start', time: 2, step: base(2, 'RUN make deps') },
      { type: 'step-start', time: 3, step: app(1, 'FROM base AS app') },
      { type: 'step-cached', time: 3, step: app(1, 'FROM base AS app') },
      { type: 'cache-miss', time: 4, step: app(2, 'RUN make app'), reason: 'parent changed' },
      { type: 'step-start', time: 4, step: app(2, 'RUN make app') },
    ];
    const x = explainCache(ev);
    expect(x.map((e) => [e.step.stage, e.step.index, e.cause?.step.stage, e.cause?.step.index])).toEqual([
      ['base', 2, undefined, undefined],
      ['app', 2, 'base', 2],
    ]);
    expect(formatExplanation(x)).toContain('because parent changed: [base 2/2] was rebuilt (build arg changed: DEPS)');
    // The builder may say the base changed itself; the explanation still names the step that changed in it.
    const withBase = ev.map((e) =>
      e.type === 'cache-miss' && e.step.stage === 'app'
        ? { ...e, step: app(2, 'RUN make app'), reason: 'base image changed: stage base 1234' }
        : e,
    );
    expect(formatExplanation(explainCache(withBase as BuildEvent[]))).toContain(
      '[app 2/2] RUN make app  (line 12)\n      because its base stage base was rebuilt: [base 2/2] (build arg changed: DEPS)',
    );
  });

  it('a COPY --from a rebuilt stage is explained by that stage, even without a reason of its own', () => {
    const b = (i: number, instruction: string): StepRef => ({
      stage: 'build',
      index: i,
      total: 2,
      instruction,
      line: i,
    });
    const f = (i: number, instruction: string): StepRef => ({
      stage: 'stage-1',
      index: i,
      total: 3,
      instruction,
      line: 5 + i,
    });
    const ev: BuildEvent[] = [
      { type: 'step-start', time: 1, step: b(1, 'FROM busybox AS build') },
      { type: 'step-cached', time: 1, step: b(1, 'FROM busybox AS build') },
      { type: 'cache-miss', time: 2, step: b(2, 'COPY src /src'), reason: 'file changed: src/main.c' },
      { type: 'step-start', time: 2, step: b(2, 'COPY src /src') },
      { type: 'step-start', time: 3, step: f(1, 'FROM busybox') },
      { type: 'step-cached', time: 3, step: f(1, 'FROM busybox') },
      { type: 'step-start', time: 3, step: f(2, 'COPY --from=build /src/app /app') },
      { type: 'cache-miss', time: 4, step: f(2, 'COPY --from=build /src/app /app'), reason: 'no cache record' },
      { type: 'cache-miss', time: 5, step: f(3, 'RUN /app --selftest'), reason: 'parent changed' },
      { type: 'step-start', time: 5, step: f(3, 'RUN /app --selftest') },
    ];
    const text = formatExplanation(explainCache(ev));
    expect(text).toContain(
      '[stage-1 2/3] COPY --from=build /src/app /app  (line 7)\n      because the stage it copies from (build) was rebuilt: [build 2/2] (file changed: src/main.c)',
    );
    expect(text).toContain(
      '[stage-1 3/3] RUN /app --selftest  (line 8)\n      because parent changed: [build 2/2] was rebuilt (file changed: src/main.c)',
    );
  });
});
