// The build report: JSON data derived from the events, and the HTML page rendered by headless Chromium, with a
// screenshot kept in test-artifacts/ for a human to look at.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeReport, type buildReport } from '../../cli/report/index.js';
import type { BuildEvent } from '../../builder/events.js';
import { sampleEvents } from './fixtures/sample-events.mjs';
import { dumpDom, screenshot } from './helpers/chromium.js';

const artifacts = fileURLToPath(new URL('../../test-artifacts', import.meta.url));
const events = sampleEvents(1_700_000_000_000) as BuildEvent[];
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsbuild-report-'));
  mkdirSync(artifacts, { recursive: true });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('build report', () => {
  it('JSON: every step with its start, duration, cache status, layer and cache-miss reason', async () => {
    const file = join(dir, 'report.json');
    await writeReport(events, file);
    const r = JSON.parse(readFileSync(file, 'utf8')) as ReturnType<typeof buildReport>;
    expect(r.schema).toBe('tsbuild-report/v1');
    expect(r.ok).toBe(true);
    expect(r.durationMs).toBe(events[events.length - 1]!.time - events[0]!.time);
    expect(r.stages).toEqual([
      { name: 'builder', dependsOn: [], steps: 3, startMs: expect.any(Number), endMs: expect.any(Number) },
      { name: '0', dependsOn: ['builder'], steps: 3, startMs: expect.any(Number), endMs: expect.any(Number) },
    ]);
    expect(r.steps.map((s) => `${s.stage} ${s.index} ${s.cached ? 'cached' : 'ran'}`)).toEqual([
      'builder 1 cached',
      'builder 2 ran',
      'builder 3 ran',
      '0 1 cached',
      '0 2 ran',
      '0 3 ran',
    ]);
    const run = r.steps[1]!;
    expect(run.durationMs).toBe(1600);
    expect(run.layer).toEqual({ digest: 'sha256:' + 'b'.repeat(64), size: 1536 });
    expect(run.cacheMiss).toBe('instruction changed');
    expect(run.outputLines).toBe(8);
    expect(r.transfers).toEqual([
      {
        kind: 'pull',
        ref: 'docker.io/library/busybox:latest',
        blobs: 1,
        bytes: 2_000_000,
        startMs: 150,
        durationMs: 600,
      },
    ]);
  });

  it('HTML: self-contained, renders in headless Chromium with the stage graph and every step', async () => {
    const file = join(dir, 'report.html');
    await writeReport(events, file);
    const html = readFileSync(file, 'utf8');
    // Nothing fetched from anywhere: no external scripts, styles, images or fonts.
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i);
    expect(html).not.toMatch(/url\((?!#)/);
    const dom = await dumpDom(file);
    for (const s of ['builder 1', 'builder 2', 'builder 3', '0 1', '0 2', '0 3']) {
      expect(dom).toContain(`<tr class="${s.endsWith(' 1') ? 'cached' : ''}" data-step="${s}">`);
      expect(dom).toContain(`<g data-step="${s}">`);
    }
    expect(dom).toContain('<g class="stage" data-stage="builder">');
    expect(dom).toContain('<g class="stage" data-stage="0">');
    expect(dom).toContain('<path class="edge"');
    expect(dom).toContain('file changed: /out/app');
    const png = join(artifacts, 'report.png');
    await screenshot(file, png);
    expect(statSync(png).size).toBeGreaterThan(10_000);
    expect(readFileSync(png).subarray(1, 4).toString('latin1')).toBe('PNG');
  });

  it('HTML: escapes instruction text', async () => {
    const evil = events.map((e) =>
      'step' in e && e.step.index === 3 && e.step.stage === '0'
        ? { ...e, step: { ...e.step, instruction: 'RUN echo "<script>alert(1)</script>"' } }
        : e,
    ) as BuildEvent[];
    const file = join(dir, 'evil.html');
    await writeReport(evil, file);
    const html = readFileSync(file, 'utf8');
    expect(html).not.toContain('<script>alert(1)');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });
});
