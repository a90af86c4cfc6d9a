// The parallel gzip: one standard gzip member that gzip -t accepts and that decompresses to the input, for empty,
// small, compressible and incompressible (stored) inputs.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { parallelGzip } from '../../store/layer-tar/gzip.js';
import { cleanupTemps, tempDir } from './helpers.js';

afterAll(cleanupTemps);

async function gz(input: Buffer, chunkSize = 1 << 20): Promise<Buffer> {
  const parts: Buffer[] = [];
  const src = Readable.from(
    (function* () {
      for (let i = 0; i < input.length; i += 100_000) yield input.subarray(i, i + 100_000);
    })(),
  );
  for await (const c of parallelGzip(src, { chunkSize })) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('parallel gzip', () => {
  const text = Buffer.from(
    Array.from({ length: 60_000 }, (_, i) => `line ${i} of some very compressible text\n`).join(''),
  );
  const random = randomBytes(5 << 20);
  const cases: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['tiny', Buffer.from('hello')],
    ['text', text],
    ['random', random],
    ['mixed', Buffer.concat([text, random, text])],
  ];
  for (const [name, input] of cases) {
    it(`round-trips ${name} input through gzip -t and gunzip`, async () => {
      const out = await gz(input, 256 * 1024);
      const f = join(await tempDir(), `${name}.gz`);
      writeFileSync(f, out);
      execFileSync('gzip', ['-t', f]);
      expect(gunzipSync(out).equals(input)).toBe(true);
      expect(execFileSync('gzip', ['-dc', f], { maxBuffer: 64 << 20 }).equals(input)).toBe(true);
    });
  }

  it('stores incompressible chunks instead of squeezing them, and compresses text', async () => {
    const r = await gz(random);
    expect(r.length).toBeLessThan(random.length * 1.01);
    const t = await gz(text);
    expect(t.length).toBeLessThan(text.length / 4);
  });

  it('is deterministic', async () => {
    const input = Buffer.concat([text, random]);
    expect((await gz(input)).equals(await gz(input))).toBe(true);
  });
});

describe('parallel gzip of a file', () => {
  it('matches the stream version and handles empty and odd-sized files', async () => {
    const { parallelGzipFile } = await import('../../store/layer-tar/gzip.js');
    const dir = await tempDir();
    for (const [name, input] of [
      ['empty', Buffer.alloc(0)],
      ['odd', Buffer.concat([randomBytes(300_001), Buffer.alloc(777_777, 0x62)])],
    ] as const) {
      const f = join(dir, name);
      writeFileSync(f, input);
      const parts: Buffer[] = [];
      for await (const c of parallelGzipFile(f, { chunkSize: 128 * 1024 })) parts.push(Buffer.from(c));
      const out = Buffer.concat(parts);
      writeFileSync(`${f}.gz`, out);
      execFileSync('gzip', ['-t', `${f}.gz`]);
      expect(gunzipSync(out).equals(input)).toBe(true);
      expect(out.equals(await gz(input, 128 * 1024))).toBe(true);
    }
  });
});
