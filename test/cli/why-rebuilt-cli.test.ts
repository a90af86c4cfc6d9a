// `tsbuild why-rebuilt`: reads a saved --progress=json log (file or stdin) or a --report JSON.
import { afterAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BuildEvent } from '../../builder/events.js';
import { buildReport } from '../../cli/report/model.js';
import { sampleEvents } from './fixtures/sample-events.mjs';

const bin = fileURLToPath(new URL('../../bin/tsbuild', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tsbuild-why-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(bin, args, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    child.stdin!.end(input ?? '');
  });
}

const events = sampleEvents() as BuildEvent[];
const jsonl = events.map((e) => JSON.stringify(e)).join('\n') + '\n';

describe('tsbuild why-rebuilt', () => {
  it('explains a saved event log, from a file and from stdin', async () => {
    const file = join(dir, 'events.jsonl');
    writeFileSync(file, 'image sha256:abc\n' + jsonl);
    const a = await run(['why-rebuilt', file]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toContain('Rebuilt 4 of 6 steps:');
    expect(a.stdout).toContain(
      '[0 2/3] COPY --from=builder /out/app /app  (line 6)\n      because file changed: /out/app',
    );
    const b = await run(['why-rebuilt'], jsonl);
    expect(b.stdout).toBe(a.stdout);
  });

  it('explains a --report JSON', async () => {
    const file = join(dir, 'report.json');
    writeFileSync(file, JSON.stringify(buildReport(events)));
    const r = await run(['why-rebuilt', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('because parent changed: [builder 2/3] was rebuilt (instruction changed)');
  });

  it('a missing or unreadable log fails with exit 1 and a one-line message', async () => {
    const r = await run(['why-rebuilt', join(dir, 'nope.jsonl')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: ${join(dir, 'nope.jsonl')}: cannot read: ENOENT\n`);
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, 'no events here\n');
    const s = await run(['why-rebuilt', bad]);
    expect(s.code).toBe(1);
    expect(s.stderr).toMatch(/^error: .*bad\.jsonl: no build events found/);
  });
});
