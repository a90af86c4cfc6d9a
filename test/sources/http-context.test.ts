// HTTP(S) contexts and tar contexts on stdin, told apart by content as buildx does: a tar compressed with gzip,
// bzip2, xz or zstd, a plain tar, or a Buildfile alone (the context then holds only it). Served by a loopback
// HTTP server the test runs; the archive is untrusted, so `..` names and device nodes are refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { closeBuildEnv, makeBuildEnv, type BuildTestEnv } from '../builder/helpers/env.js';
import { serveFiles, tsbAsync, type FileServer } from './helpers.js';

let env: BuildTestEnv;
let server: FileServer;
const files = new Map<string, Buffer>();
const tars: Record<string, Buffer> = {};

/** A ustar archive of one entry, written by hand (GNU tar would not write these names). */
function rawTar(name: string, type: '0' | '3', body = ''): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 'latin1');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${Buffer.byteLength(body).toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write(type, 156);
  h.write('ustar\0' + '00', 257, 'latin1');
  if (type === '3') {
    h.write('0000001\0', 329);
    h.write('0000003\0', 337);
  }
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const data = Buffer.alloc(Math.ceil(Buffer.byteLength(body) / 512) * 512);
  data.write(body);
  return Buffer.concat([h, data, Buffer.alloc(1024)]);
}

beforeAll(async () => {
  env = await makeBuildEnv('http-ctx');
  const ctx = join(env.work, 'ctx');
  await mkdir(join(ctx, 'sub'), { recursive: true });
  await writeFile(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt sub/ /out/\n');
  await writeFile(join(ctx, 'hello.txt'), 'hello from the tarball\n');
  await writeFile(join(ctx, 'sub/deep.txt'), 'deep\n');
  const tar = join(env.work, 'ctx.tar');
  execFileSync('tar', ['-C', ctx, '-cf', tar, '.']);
  tars.tar = await readFile(tar);
  for (const [fmt, tool] of [
    ['gzip', 'gzip'],
    ['bzip2', 'bzip2'],
    ['xz', 'xz'],
    ['zstd', 'zstd'],
  ] as const) {
    tars[fmt] = execFileSync(tool, ['-c'], { input: tars.tar, maxBuffer: 64 << 20 });
    files.set(`/ctx.${fmt}`, tars[fmt]);
  }
  files.set('/ctx.tar', tars.tar);
  files.set('/Buildfile', Buffer.from('FROM scratch\nCOPY Dockerfile /got/Buildfile\n'));
  files.set('/evil-dotdot', rawTar('../escaped.txt', '0', 'x'));
  files.set('/evil-device', rawTar('dev-null', '3'));
  server = await serveFiles(files);
});
afterAll(async () => {
  await server?.close();
  await closeBuildEnv(env);
});

const build = (args: string[], input?: Buffer) =>
  tsbAsync(env.root, env.registry.host, ['build', '--progress=plain', ...args], input ? { input } : {});

describe('HTTP(S) contexts', () => {
  for (const fmt of ['tar', 'gzip', 'bzip2', 'xz', 'zstd']) {
    it(`builds from a ${fmt} tarball URL: its Buildfile and files are the context`, async () => {
      const out = join(env.work, `out-url-${fmt}`);
      const r = await build(['-o', `type=local,dest=${out}`, server.url(`/ctx.${fmt}`)]);
      expect(r.code, r.stderr).toBe(0);
      expect(await readFile(join(out, 'out/hello.txt'), 'utf8')).toBe('hello from the tarball\n');
      expect(await readFile(join(out, 'out/deep.txt'), 'utf8')).toBe('deep\n');
    });
  }

  it('a URL of a Buildfile alone builds with a context holding only it', async () => {
    const out = join(env.work, 'out-buildfile');
    const r = await build(['-o', `type=local,dest=${out}`, server.url('/Buildfile')]);
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(join(out, 'got/Buildfile'), 'utf8')).toBe(files.get('/Buildfile')!.toString());
  });

  it('an HTTP error names the URL and exits 1', async () => {
    const r = await build([server.url('/missing.tar.gz')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot download the context http:\/\/127\.0\.0\.1:\d+\/missing\.tar\.gz: HTTP 404/);
  });

  it('caps the download (remoteContextMaxBytes): a larger body fails naming the cap', async () => {
    const { openHttpContext } = await import('../../builder/remote-context.js');
    const tmp = join(env.work, 'cap');
    const err = await openHttpContext(server.url('/ctx.tar'), tmp, { maxBytes: 1024 }).catch((e: unknown) => e);
    // thrown while sniffing or while unpacking, depending on how the body is chunked: named either way
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/is larger than 1024 bytes/);
    const ok = await openHttpContext(server.url('/ctx.tar'), tmp, { maxBytes: tars.tar!.length });
    expect((await ok.walk('')).map((e) => e.rel)).toContain('hello.txt');
    await ok.close();
  });

  it('--check refuses an HTTP(S) context with exit 2 rather than reading a wrong path', async () => {
    const r = await build(['--check', server.url('/ctx.gzip')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--check cannot read an HTTP\(S\) context/);
  });

  it('refuses a `..` entry and a device node in a downloaded context', async () => {
    const a = await build([server.url('/evil-dotdot')]);
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/reading the context http:\S+\/evil-dotdot failed: .*\.\./);
    const b = await build([server.url('/evil-device')]);
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/"dev-null" is a device or fifo, which a build context may not hold/);
  });
});

describe('tar contexts on stdin', () => {
  for (const fmt of ['gzip', 'bzip2', 'xz', 'zstd']) {
    it(`reads a ${fmt}-compressed tar on stdin as the context`, async () => {
      const out = join(env.work, `out-stdin-${fmt}`);
      const r = await build(['-o', `type=local,dest=${out}`, '-'], tars[fmt]);
      expect(r.code, r.stderr).toBe(0);
      expect(await readFile(join(out, 'out/hello.txt'), 'utf8')).toBe('hello from the tarball\n');
    });
  }
});
