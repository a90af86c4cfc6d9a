// HashWriter's worker (store/hash-writer.ts) dying in the middle of a job (out of memory, terminated) must fail the
// job, not leave the main thread waiting for ring room forever: a build once hung there for good. The test hook
// TSBUILD_TEST_HASH_WORKER_EXIT=<job kind> (store/hash-worker.ts) makes the thread exit on such a job without a
// reply; the env is read when the thread starts, so each case sets it around the job that starts one.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import type { Digest } from '../../oci/index.js';
import { MediaType } from '../../oci/types.js';
import { StoreError } from '../../store/errors.js';
import { SLOT, SLOTS, REGIONS } from '../../store/hash-protocol.js';
import { HashWriter } from '../../store/hash-writer.js';
import { openStore } from '../../store/index.js';
import { encodeHeader, END_OF_ARCHIVE, paddingFor } from '../../store/layer-tar/tar-header.js';
import { cleanupTemps, tempDir } from './helpers.js';

afterAll(cleanupTemps);

const HOOK = 'TSBUILD_TEST_HASH_WORKER_EXIT';

/** Runs `start` with the hook set (until it settles), so that the worker it starts exits on a `kind` job. */
async function withExitOn<T>(kind: string, start: () => T | Promise<T>): Promise<T> {
  process.env[HOOK] = kind;
  try {
    return await start();
  } finally {
    delete process.env[HOOK];
  }
}

/** A tar of one file of `size` bytes (more than the ring holds). */
function bigTar(size: number): Buffer {
  const body = Buffer.alloc(size, 0x61);
  const h = encodeHeader({ name: 'big', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 1_600_000_000, size });
  return Buffer.concat([h, body, paddingFor(size), END_OF_ARCHIVE]);
}

describe('HashWriter: a worker that exits mid-job fails the job', () => {
  it('write: push into a full ring rejects with a StoreError instead of waiting forever', async () => {
    const hw = new HashWriter();
    try {
      const job = await withExitOn('write', () => hw.begin('/dev/null'));
      const chunk = Buffer.alloc(SLOT, 1);
      const pushAll = async (): Promise<void> => {
        for (let i = 0; i < 4 * SLOTS; i++) await job.push(chunk);
      };
      const err = await pushAll().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as Error).message).toMatch(/blob writer thread exited \(code 70\)/);
      await expect(job.end()).rejects.toBeInstanceOf(StoreError);
      expect(hw.busy).toBe(false);
      // the dead thread is not reused: the next job gets a new one
      const ok = hw.begin('/dev/null');
      await ok.push(Buffer.from('abc'));
      expect((await ok.end()).digest).toBe('sha256:' + createHash('sha256').update('abc').digest('hex'));
    } finally {
      await hw.close();
    }
  });

  it('follow: waiting for region room rejects with a StoreError instead of waiting forever', async () => {
    const hw = new HashWriter();
    const dir = await tempDir();
    const src = join(dir, 'src');
    fs.writeFileSync(src, Buffer.alloc(4096, 2));
    try {
      // more large-file regions than the worker's queue holds: the main thread must wait for the worker
      const chunks = async function* () {
        for (let i = 0; i < 2 * REGIONS; i++) yield { fd: fs.openSync(src, 'r'), size: 4096, path: src };
      };
      const err = await withExitOn('follow', () => hw.writeFollowed(join(dir, 'out'), chunks())).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StoreError);
      expect((err as Error).message).toMatch(/blob writer thread exited \(code 70\)/);
      expect(hw.busy).toBe(false);
    } finally {
      await hw.close();
    }
  });

  it('a pulled layer stream unpacking through the store fails (the reported hang) and the next one works', async () => {
    const s = await openStore(await tempDir());
    try {
      const tar = bigTar(2 * SLOTS * SLOT);
      const layer = {
        mediaType: MediaType.OciLayer,
        digest: ('sha256:' + createHash('sha256').update(tar).digest('hex')) as Digest,
        size: tar.length,
      };
      const err = await withExitOn('write', () => s.layers.unpackStream(layer, Readable.from([tar]))).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StoreError);
      expect((err as Error).message).toMatch(/blob writer thread exited/);
      const { dir } = await s.layers.unpackStream(layer, Readable.from([tar]));
      expect(fs.statSync(join(dir, 'big')).size).toBe(2 * SLOTS * SLOT);
    } finally {
      await s.close();
    }
  });
});
