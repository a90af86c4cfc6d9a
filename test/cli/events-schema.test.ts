// docs/build-events.schema.json describes every line of `--progress=json`. The schema accepts each kind of event
// and rejects malformed ones; the event log reader used by `tsbuild why-rebuilt` reads such lines back.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import type { BuildEvent } from '../../builder/events.js';
import { sampleEvents } from './fixtures/sample-events.mjs';
import { parseEventLog } from '../../cli/explain.js';
import { createRenderer } from '../../cli/progress/select.js';
import { PassThrough } from 'node:stream';

const schema = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../docs/build-events.schema.json', import.meta.url)), 'utf8'),
) as object;
const validateEvent = new Ajv({ allErrors: true, strict: true }).compile(schema);

describe('build event JSON schema', () => {
  const events = [...sampleEvents(), ...sampleEvents(undefined, { fail: true })] as BuildEvent[];

  it('accepts every kind of event the builder emits', () => {
    const kinds = new Set(events.map((e) => e.type));
    for (const k of [
      'build-start',
      'step-start',
      'step-cached',
      'step-output',
      'step-end',
      'cache-miss',
      'pull-progress',
      'log',
      'build-end',
    ])
      expect(kinds).toContain(k);
    for (const e of events)
      expect(validateEvent(JSON.parse(JSON.stringify(e))), JSON.stringify(validateEvent.errors)).toBe(true);
    expect(
      validateEvent({
        type: 'push-progress',
        time: 1,
        ref: 'r/x:1',
        digest: 'sha256:' + '0'.repeat(64),
        current: 1,
        total: 2,
      }),
    ).toBe(true);
    expect(
      validateEvent({ type: 'image-pushed', time: 1, ref: 'r/x:1', digest: 'sha256:' + '0'.repeat(64) }),
      JSON.stringify(validateEvent.errors),
    ).toBe(true);
  });

  it('accepts the platform of a step in a multi-platform build, and only a platform', () => {
    const step = { stage: 'linux/arm64 build', index: 2, total: 3, instruction: 'RUN x', line: 2 };
    expect(validateEvent({ type: 'step-start', time: 1, step: { ...step, platform: 'linux/arm64' } })).toBe(true);
    expect(validateEvent({ type: 'step-start', time: 1, step: { ...step, platform: 'linux/arm/v7' } })).toBe(true);
    expect(validateEvent({ type: 'step-start', time: 1, step: { ...step, platform: 'arm64' } })).toBe(false);
    expect(validateEvent({ type: 'step-start', time: 1, step: { ...step, platform: 7 } })).toBe(false);
  });

  it("accepts the CLI's closing events: the result, or the error with its exit code", () => {
    const d = 'sha256:' + 'a'.repeat(64);
    expect(validateEvent({ type: 'result', time: 1, imageId: d, manifestDigest: d, tags: ['docker.io/x/y:1'] })).toBe(
      true,
    );
    expect(validateEvent({ type: 'error', time: 1, message: 'failed', code: 'USAGE', hint: 'h', exitCode: 2 })).toBe(
      true,
    );
    for (const bad of [
      { type: 'result', time: 1, imageId: d, manifestDigest: d },
      { type: 'result', time: 1, imageId: 'x', manifestDigest: d, tags: [] },
      { type: 'error', time: 1, message: 'failed' },
      { type: 'error', time: 1, message: 'failed', exitCode: 0 },
      { type: 'error', time: 1, message: '', exitCode: 1 },
    ])
      expect(validateEvent(bad), JSON.stringify(bad)).toBe(false);
  });

  it('rejects events with missing, extra or mistyped fields', () => {
    const step = { stage: '0', index: 1, total: 1, instruction: 'RUN x', line: 1 };
    const bad: unknown[] = [
      { type: 'step-end', time: 1, step, cached: false },
      { type: 'step-end', time: 1, step, cached: 'no', durationMs: 1 },
      { type: 'step-output', time: 1, step, stream: 'stdlog', line: 'x' },
      { type: 'build-end', time: 1, ok: true, imageId: 'not a digest' },
      { type: 'step-start', time: 1, step: { ...step, index: 0 } },
      { type: 'log', time: 1, level: 'info', message: 'x', extra: 1 },
      { type: 'pull-progress', time: 1, ref: 'x', digest: 'sha256:ab', current: -1, total: 2 },
      { type: 'image-pushed', time: 1, ref: 'r/x:1' },
      { type: 'image-pushed', time: 1, ref: 'r/x:1', digest: 'sha256:' + '0'.repeat(64), local: true },
      { type: 'bogus', time: 1 },
    ];
    for (const b of bad) expect(validateEvent(b), JSON.stringify(b)).toBe(false);
  });

  it('--progress=json writes one schema-valid event per line, the same events it was given', async () => {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    const r = await createRenderer('json', out);
    for (const e of events) r.onEvent(e);
    r.close();
    const lines = Buffer.concat(chunks)
      .toString('utf8')
      .split('\n')
      .filter((l) => l !== '');
    expect(lines).toHaveLength(events.length);
    for (const l of lines) expect(validateEvent(JSON.parse(l)), l + JSON.stringify(validateEvent.errors)).toBe(true);
    expect(lines.map((l) => JSON.parse(l))).toEqual(events);
  });

  it('event logs round-trip through JSON lines (why-rebuilt input), skipping non-JSON lines', () => {
    const text = ['#1 not json', ...events.map((e) => JSON.stringify(e)), ''].join('\n');
    expect(parseEventLog(text, 'log')).toEqual(events);
    expect(() => parseEventLog('{"type": broken', 'log')).toThrow(/log:1: |not a JSON event/);
    expect(() => parseEventLog('nothing here', 'log')).toThrow(/no build events/);
  });
});
