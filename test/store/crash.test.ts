// Crashes and concurrency: a writer SIGKILLed mid-blob leaves no half blob under a real name and the store still
// verifies; two processes writing and tagging at once lose nothing; prune keeps what a live process leases.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { cleanupTemps, tempDir, tsbuild } from './helpers.js';

const STORE = fileURLToPath(new URL('../../dist/store/index.js', import.meta.url));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
afterAll(cleanupTemps);

/** Runs an ESM snippet in a child node with `openStore` and the store root in scope. */
function child(root: string, code: string): { proc: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const src = `import { openStore, putJSON } from ${JSON.stringify(STORE)}; import { Readable } from 'node:stream'; const root = ${JSON.stringify(root)};\n${code}`;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', src], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(proc);
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return { proc, out: () => out, exited };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('crash safety', () => {
  it('a writer killed mid-blob leaves no half blob and the store verifies', async () => {
    const root = join(await tempDir(), 'store');
    const digest = 'sha256:' + 'ab'.repeat(32);
    const w = child(
      root,
      `const s = await openStore(root);
       let n = 0;
       const src = new Readable({ read() { if (n++ < 8) this.push(Buffer.alloc(1 << 20, n)); else { console.log('stalled'); } } });
       await s.blobs.put(src, { digest: ${JSON.stringify(digest)} });`,
    );
    await until(() => w.out().includes('stalled'), 'the writer to be mid-blob');
    const tmp = fs.readdirSync(join(root, 'tmp'));
    expect(tmp.length).toBe(1);
    expect(fs.statSync(join(root, 'tmp', tmp[0]!)).size).toBeGreaterThan(0);
    w.proc.kill('SIGKILL');
    await w.exited;
    expect(fs.existsSync(join(root, 'blobs/sha256', digest.slice(7)))).toBe(false);
    const v = tsbuild(root, ['store', 'verify']);
    expect(v.code).toBe(0);
    expect(v.stdout).toContain('ok');
    // the dead writer's partial blob is swept by the next command that opens the store, not only by prune
    expect(fs.readdirSync(join(root, 'tmp'))).toEqual([]);
    const p = tsbuild(root, ['prune', '--json']);
    expect(p.code).toBe(0);
    expect(JSON.parse(p.stdout).temp).toBe(0);
  });

  it('a digest mismatch keeps nothing', async () => {
    const root = join(await tempDir(), 'store');
    const w = child(
      root,
      `const s = await openStore(root);
       try { await s.blobs.put(Readable.from([Buffer.from('hello')]), { digest: 'sha256:' + '00'.repeat(32) }); console.log('kept'); }
       catch (e) { console.log(e.name); }
       await s.close();`,
    );
    expect(await w.exited).toBe(0);
    expect(w.out().trim()).toBe('DigestMismatchError');
    expect(fs.readdirSync(join(root, 'blobs/sha256'))).toEqual([]);
    expect(fs.readdirSync(join(root, 'tmp'))).toEqual([]);
  });

  it('store verify names a corrupt blob and a modified unpacked layer, and exits 1', async () => {
    const root = join(await tempDir(), 'store');
    const w = child(
      root,
      `const s = await openStore(root);
       const d = await s.containerDirs();
       (await import('node:fs')).writeFileSync(d.upperdir + '/file', 'content');
       const c = await s.layers.commit(d.upperdir);
       await d.release();
       const cfg = await putJSON(s.blobs, { architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [c.diffID] } }, 'application/vnd.oci.image.config.v1+json');
       const m = await putJSON(s.blobs, { schemaVersion: 2, config: cfg, layers: [c.descriptor] }, 'application/vnd.oci.image.manifest.v1+json');
       await s.images.tag('localhost/v:1', m);
       console.log(JSON.stringify({ cfg: cfg.digest, layer: c.diffID, dir: await s.layers.lowerdir(c.diffID) }));
       await s.close();`,
    );
    expect(await w.exited).toBe(0);
    const info = JSON.parse(w.out()) as { cfg: string; layer: string; dir: string };
    expect(tsbuild(root, ['store', 'verify']).code).toBe(0);
    const cfgPath = join(root, 'blobs/sha256', info.cfg.slice(7));
    const bytes = fs.readFileSync(cfgPath);
    bytes[5] ^= 1;
    fs.writeFileSync(cfgPath, bytes);
    fs.appendFileSync(join(info.dir, 'file'), ' tampered');
    const v = tsbuild(root, ['store', 'verify']);
    expect(v.code).toBe(1);
    expect(v.stdout).toContain(`blob ${info.cfg} is corrupt`);
    expect(v.stdout).toMatch(new RegExp(`unpacked layer ${info.layer} differs .*: file`));
  });
});

describe('concurrency', () => {
  it('two processes writing and tagging at once lose nothing', async () => {
    const root = join(await tempDir(), 'store');
    const writer = (p: number): ReturnType<typeof child> =>
      child(
        root,
        `const s = await openStore(root);
         for (let i = 0; i < 25; i++) {
           const d = await putJSON(s.blobs, { p: ${p}, i }, 'application/vnd.oci.image.manifest.v1+json');
           await s.images.tag('localhost/c${p}:' + i, d);
           await s.images.tag('localhost/shared:latest', d);
         }
         await s.close();`,
      );
    const a = writer(1);
    const b = writer(2);
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);
    const index = JSON.parse(fs.readFileSync(join(root, 'index.json'), 'utf8')) as {
      manifests: { annotations: Record<string, string> }[];
    };
    const names = index.manifests.map((m) => m.annotations['org.opencontainers.image.ref.name']).sort();
    expect(names).toHaveLength(51);
    expect(new Set(names).size).toBe(51);
    expect(names).toContain('localhost/shared:latest');
    expect(tsbuild(root, ['store', 'verify']).code).toBe(0);
  });

  it('prune keeps what a live process leases and drops it once the process is gone', async () => {
    const root = join(await tempDir(), 'store');
    const holder = child(
      root,
      `const s = await openStore(root);
       const a = await s.blobs.putBytes(Buffer.from('written by a running build'), 'application/octet-stream');
       const b = await s.blobs.putBytes(Buffer.from('explicitly leased'), 'application/octet-stream');
       await s.lease([b.digest]);
       console.log(JSON.stringify([a.digest, b.digest]));
       process.stdin.resume();`,
    );
    await until(() => holder.out().includes(']'), 'the holder to write its blobs');
    const [a, b] = JSON.parse(holder.out()) as [string, string];
    const other = child(
      root,
      `const s = await openStore(root); await s.blobs.putBytes(Buffer.from('garbage'), 'x'); await s.close();`,
    );
    expect(await other.exited).toBe(0);
    const p1 = tsbuild(root, ['prune', '--json']);
    expect(p1.code).toBe(0);
    expect(JSON.parse(p1.stdout).blobs).toBe(1); // only the garbage
    for (const d of [a, b]) expect(fs.existsSync(join(root, 'blobs/sha256', d.slice(7)))).toBe(true);
    holder.proc.kill('SIGKILL');
    await holder.exited;
    const p2 = tsbuild(root, ['prune', '--json']);
    expect(JSON.parse(p2.stdout).blobs).toBe(2);
    for (const d of [a, b]) expect(fs.existsSync(join(root, 'blobs/sha256', d.slice(7)))).toBe(false);
    expect(fs.readdirSync(join(root, 'leases'))).toEqual([]);
  });
});

describe('broken layers', () => {
  it('a truncated gzip layer and a damaged zstd layer fail to unpack with a clear error and leave nothing behind', async () => {
    const { openStore } = await import('../../store/index.js');
    const { gzipSync } = await import('node:zlib');
    const { Readable } = await import('node:stream');
    const { digestOf } = await import('../../oci/digest.js');
    const root = join(await tempDir(), 'store');
    const store = await openStore(root);
    try {
      const full = gzipSync(Buffer.alloc(1 << 20, 0x41));
      const cut = full.subarray(0, full.length >> 1);
      const zstd = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3, 4]);
      for (const [bytes, msg] of [
        [cut, /unexpected end|cannot unpack|invalid tar/i],
        [zstd, /zstd/],
      ] as const) {
        const digest = digestOf(bytes);
        await store.blobs.put(Readable.from([bytes]), { digest });
        const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size: bytes.length };
        await expect(store.layers.unpack(layer)).rejects.toThrow(msg);
        await expect(store.layers.unpackStream(layer, Readable.from([bytes]))).rejects.toThrow(msg);
        expect(await store.layers.diffIDOf(layer)).toBeUndefined();
      }
      expect(fs.readdirSync(join(root, 'layers'))).toEqual([]);
      expect(fs.readdirSync(join(root, 'l'))).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
