// The commit and unpack fast paths agree with the plain ones: a layer committed with its large files copied on the
// second thread has the digest of the streamed diff (and of the inline path used when that thread is busy), and a
// gzip layer inflated on the second thread (multi-member, zero-padded) unpacks to the tar's diffID and tree.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { digestOf } from '../../oci/digest.js';
import { BlobStore } from '../../store/blobs.js';
import { diffChunks, diffDir } from '../../store/layer-tar/diff.js';
import { cleanupTemps, snapshot, tempDir } from './helpers.js';

afterAll(cleanupTemps);

/** Small files around large ones of odd sizes (not multiples of the tar block or the copy buffer) and a hardlink. */
function makeTree(dir: string): void {
  fs.mkdirSync(join(dir, 'a/b'), { recursive: true });
  fs.writeFileSync(join(dir, 'a/one.txt'), 'one\n');
  const big = Buffer.alloc((3 << 20) + 123);
  for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE((i * 2654435761) >>> 0, i);
  fs.writeFileSync(join(dir, 'a/big.bin'), big);
  fs.writeFileSync(join(dir, 'a/b/just-over.bin'), Buffer.alloc((1 << 20) + 1, 0x5a));
  fs.writeFileSync(join(dir, 'a/b/z.txt'), 'z\n');
  fs.linkSync(join(dir, 'a/big.bin'), join(dir, 'a/b/big-link'));
  fs.writeFileSync(join(dir, 'last.bin'), Buffer.alloc(5 << 20, 0x01));
}

async function streamDigest(dir: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of diffDir(dir)) h.update(c as Buffer);
  return `sha256:${h.digest('hex')}`;
}

describe('commit and unpack fast paths', () => {
  it('a layer with large files has the same digest whether the second thread copies them or this one does', async () => {
    const base = await tempDir();
    const src = join(base, 'src');
    fs.mkdirSync(src);
    makeTree(src);
    const want = await streamDigest(src);
    const blobs = new BlobStore(join(base, 'store'));
    fs.mkdirSync(join(base, 'store/tmp'), { recursive: true });
    fs.mkdirSync(join(base, 'store/blobs/sha256'), { recursive: true });
    try {
      const fast = await blobs.ingestChunks(diffChunks(src));
      expect(fast.digest).toBe(want);
      expect(
        createHash('sha256')
          .update(fs.readFileSync(blobs.path(fast.digest)))
          .digest('hex'),
      ).toBe(want.slice(7));
      // with the second thread taken, the same layer is written inline
      await blobs.remove(fast.digest);
      const busy = blobs.writer.begin('/dev/null');
      try {
        const inline = await blobs.ingestChunks(diffChunks(src));
        expect(inline).toEqual(fast);
      } finally {
        await busy.abort();
      }
      expect(fs.readdirSync(join(base, 'store/tmp'))).toEqual([]);
    } finally {
      await blobs.close();
    }
  });

  it('a blob placed later is fsynced and renamed in the background; readers and allPlaced wait for it', async () => {
    const base = await tempDir();
    const src = join(base, 'src');
    fs.mkdirSync(src);
    makeTree(src);
    const want = await streamDigest(src);
    const root = join(base, 'store');
    fs.mkdirSync(join(root, 'tmp'), { recursive: true });
    fs.mkdirSync(join(root, 'blobs/sha256'), { recursive: true });
    const blobs = new BlobStore(root);
    try {
      const r = await blobs.ingestChunks(diffChunks(src), undefined, true);
      expect(r.digest).toBe(want);
      // written and hashed, not yet in place: the fsync runs on the thread pool
      expect(fs.existsSync(blobs.path(r.digest))).toBe(false);
      expect(fs.readdirSync(join(root, 'tmp'))).toHaveLength(1);
      // a reader of that digest waits for it
      expect(await blobs.has(r.digest)).toBe(true);
      expect(digestOf(await blobs.read(r.digest))).toBe(want);
      await blobs.allPlaced();
      expect(fs.readdirSync(join(root, 'tmp'))).toEqual([]);

      // a placement that fails (a directory stands where the blob goes) is reported by allPlaced, once, and leaves
      // nothing
      await blobs.remove(r.digest);
      fs.mkdirSync(join(blobs.path(r.digest), 'in-the-way'), { recursive: true });
      const again = await blobs.ingestChunks(diffChunks(src), undefined, true);
      expect(await blobs.has(again.digest)).toBe(false);
      await expect(blobs.allPlaced()).rejects.toThrow(/EISDIR|ENOTEMPTY|EEXIST/);
      await blobs.allPlaced();
      expect(fs.readdirSync(join(root, 'tmp'))).toEqual([]);
    } finally {
      await blobs.close();
    }
  });

  it('commitLayer of an upperdir with large files unpacks back to the same tree', async () => {
    const { openStore } = await import('../../store/index.js');
    const base = await tempDir();
    const store = await openStore(join(base, 'store'));
    try {
      const src = join(base, 'src');
      fs.mkdirSync(src);
      makeTree(src);
      const want = snapshot(src);
      const digest = await streamDigest(src);
      const layer = await store.layers.commit(src);
      expect(layer.diffID).toBe(digest);
      const gz = await store.layers.compressed(layer.descriptor);
      const store2 = await openStore(join(base, 'store2'));
      try {
        await store2.blobs.put(fs.createReadStream(store.blobs.path(gz.digest)), { digest: gz.digest, size: gz.size });
        const r = await store2.layers.unpack(gz);
        expect(r.diffID).toBe(digest);
        expect(snapshot(r.dir)).toEqual(want);
      } finally {
        await store2.close();
      }
    } finally {
      await store.close();
    }
  });

  it('a multi-member gzip layer with zero padding after it unpacks to the diffID of its tar', async () => {
    const { openStore } = await import('../../store/index.js');
    const base = await tempDir();
    const src = join(base, 'src');
    fs.mkdirSync(src);
    makeTree(src);
    const parts: Buffer[] = [];
    for await (const c of diffDir(src)) parts.push(c as Buffer);
    const tar = Buffer.concat(parts);
    const cut = 1_000_003;
    const blob = Buffer.concat([gzipSync(tar.subarray(0, cut)), gzipSync(tar.subarray(cut)), Buffer.alloc(1024)]);
    const store = await openStore(join(base, 'store'));
    try {
      const digest = digestOf(blob);
      await store.blobs.put(Readable.from([blob]), { digest });
      const r = await store.layers.unpack({
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        digest,
        size: blob.length,
      });
      expect(r.diffID).toBe(digestOf(tar));
      expect(snapshot(r.dir)).toEqual(snapshot(src));
    } finally {
      await store.close();
    }
  });
});
