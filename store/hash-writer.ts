// Hashing a blob on a second thread while the main thread produces it (the layer diff): the two halves of a
// commit run on two cores. Either the main thread writes the file and the worker hashes it behind, reading it
// back from the page cache (follow), or chunks pass through a ring of shared-memory slots (one copy, no
// allocation); Atomics coordinate the two sides. One worker per store, started on first use and reused. The
// worker is hash-worker.ts; what both sides share is hash-protocol.ts.
import { closeSync, fsync, openSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import type { Worker } from 'node:worker_threads';
import type { Digest } from '../oci/index.js';
import { StoreError } from './errors.js';
import {
  Ctrl,
  CTRL_SLOTS,
  type HashJob,
  type HashReply,
  type HashWorkerData,
  REGIONS,
  SLOT,
  SLOTS,
  State,
} from './hash-protocol.js';
import type { FileBody } from './layer-tar/diff.js';
import { FileRing, type WriterSession } from './layer-tar/file-writer.js';
import { startWorker } from './worker-file.js';

const fsyncFd = promisify(fsync);
/** A wait for one ring slot this long means the worker stopped consuming (as file-writer.ts's STALL_MS). */
const STALL_MS = 60_000;
/** Atomics.waitAsync (Node 16+; typed from ES2024 on, this project targets ES2023). */
interface AtomicsWaitAsync {
  waitAsync(a: Int32Array, i: number, v: number, timeout: number): { async: boolean; value: unknown };
}
const { HEAD, TAIL, STATE, PSEQ, CSEQ, POSTED, COPIED } = Ctrl;

export class HashWriter {
  private worker: Worker | undefined;
  private readonly ctrl = new Int32Array(new SharedArrayBuffer(CTRL_SLOTS * 4));
  private readonly lens = new Int32Array(new SharedArrayBuffer(SLOTS * 4));
  private readonly data = Buffer.from(new SharedArrayBuffer(SLOTS * SLOT));
  /** follow: bytes the main thread has written so far. */
  private readonly written = new BigInt64Array(new SharedArrayBuffer(8));
  private readonly regions = new BigInt64Array(new SharedArrayBuffer(REGIONS * 24));
  private readonly regionFds = new Int32Array(new SharedArrayBuffer(REGIONS * 4));
  private inUse = false;
  /** Why the current job's worker is gone (it exited or failed without replying). */
  private exitReason: string | undefined;
  /** Small files of an unpack, written by the worker between inflated slots (layer-tar/file-writer.ts). */
  private readonly files = new FileRing();

  private start(): Worker {
    if (!this.worker) {
      const workerData: HashWorkerData = {
        ctrlBuf: this.ctrl.buffer as SharedArrayBuffer,
        lensBuf: this.lens.buffer as SharedArrayBuffer,
        dataBuf: this.data.buffer as SharedArrayBuffer,
        writtenBuf: this.written.buffer as SharedArrayBuffer,
        regionsBuf: this.regions.buffer as SharedArrayBuffer,
        regionFdsBuf: this.regionFds.buffer as SharedArrayBuffer,
        ...this.files.workerData(),
      };
      this.worker = startWorker('hash-worker', import.meta.url, workerData);
    }
    return this.worker;
  }

  /**
   * Copies `chunk` into the ring. When the ring is full it waits without blocking the event loop: a worker that
   * died (out of memory, terminated) is only reported by an event, which a blocked thread would never see.
   */
  private async push(chunk: Buffer): Promise<void> {
    for (let off = 0; off < chunk.length; off += SLOT) {
      const piece = chunk.subarray(off, Math.min(off + SLOT, chunk.length));
      const since = Date.now();
      for (;;) {
        const seq = Atomics.load(this.ctrl, CSEQ);
        this.checkFailed();
        // a live thread that stopped consuming (it never frees a slot) must not hang the build either
        if (Date.now() - since > STALL_MS)
          throw new StoreError('the blob writer thread stopped consuming its ring (hash-writer.ts)');
        const head = Atomics.load(this.ctrl, HEAD);
        if (head - Atomics.load(this.ctrl, TAIL) < SLOTS) {
          const slot = head % SLOTS;
          piece.copy(this.data, slot * SLOT);
          this.lens[slot] = piece.length;
          Atomics.store(this.ctrl, HEAD, head + 1);
          Atomics.add(this.ctrl, PSEQ, 1);
          Atomics.notify(this.ctrl, PSEQ);
          break;
        }
        await this.waitConsumed(seq);
      }
    }
  }

  /** Throws once the worker failed or exited (its reply, or its exit, says why). */
  private checkFailed(): void {
    if (Atomics.load(this.ctrl, STATE) === State.FAILED)
      throw new StoreError(this.exitReason ?? 'the blob writer thread failed');
  }

  /** Waits until the worker consumes (CSEQ moves from `seq`), letting events through (see push). */
  private async waitConsumed(seq: number): Promise<void> {
    // bounded: a re-check costs little, and no wake-up can be lost
    const r = (Atomics as unknown as AtomicsWaitAsync).waitAsync(this.ctrl, CSEQ, seq, 1000);
    if (r.async) await r.value;
  }

  private signal(state: (typeof State)[keyof typeof State]): void {
    Atomics.store(this.ctrl, STATE, state);
    Atomics.add(this.ctrl, PSEQ, 1);
    Atomics.notify(this.ctrl, PSEQ);
  }

  /** True while a write is in progress (callers then hash inline instead). */
  get busy(): boolean {
    return this.inUse;
  }

  /**
   * Takes the worker for one job (one at a time) and returns the promise of its one reply message. A worker that
   * exits or fails instead of replying (out of memory, terminated) marks the job FAILED, which ends every wait on
   * the ring, and is never reused.
   */
  private claim(): { w: Worker; reply: Promise<HashReply> } {
    if (this.inUse) throw new Error('HashWriter is single-use at a time');
    this.inUse = true;
    const w = this.start();
    this.ctrl.fill(0);
    Atomics.store(this.written, 0, 0n);
    this.exitReason = undefined;
    const reply = new Promise<HashReply>((resolve, reject) => {
      const done = (): void => {
        w.off('message', onMessage);
        w.off('error', onError);
        w.off('exit', onExit);
      };
      const onMessage = (m: HashReply): void => {
        done();
        resolve(m);
      };
      const gone = (why: string): void => {
        done();
        if (this.worker === w) this.worker = undefined;
        this.exitReason = why;
        Atomics.store(this.ctrl, STATE, State.FAILED);
        for (const i of [PSEQ, CSEQ]) {
          Atomics.add(this.ctrl, i, 1);
          Atomics.notify(this.ctrl, i);
        }
        reject(new StoreError(why));
      };
      const onError = (e: Error): void => gone(`the blob writer thread failed: ${e.message}`);
      const onExit = (code: number): void => gone(`the blob writer thread exited (code ${code}) during a job`);
      w.on('message', onMessage);
      w.on('error', onError);
      w.on('exit', onExit);
    });
    reply.catch(() => undefined);
    return { w, reply };
  }

  /**
   * Starts writing `path` (fsynced at the end; `/dev/null` to only hash) on the worker thread. Each `push` copies
   * the chunk into shared memory, so the caller may reuse or pass it on at once.
   */
  begin(path: string): {
    /** Resolves once the chunk is copied (the ring may be full); rejects once the worker failed or exited. */
    push(chunk: Buffer): Promise<void>;
    end(): Promise<{ digest: Digest; size: number }>;
    abort(): Promise<void>;
  } {
    const { w, reply: result } = this.claim();
    w.ref();
    w.postMessage({ kind: 'write', path } satisfies HashJob);
    const finish = (): void => {
      this.worker?.unref();
      this.inUse = false;
    };
    return {
      push: (chunk) => this.push(chunk),
      end: async () => {
        try {
          this.signal(State.END);
          const r = await result;
          if (r.error) throw new StoreError(`writing ${path} failed: ${r.error}`, { path });
          return { digest: r.digest as Digest, size: r.size! };
        } finally {
          finish();
        }
      },
      abort: async () => {
        try {
          this.signal(State.ABORT);
          await result.catch(() => undefined);
        } finally {
          finish();
        }
      },
    };
  }

  /**
   * Writes `chunks` to `path` on this thread while the worker hashes what is already written, reading it back
   * behind the writer: this thread never waits for the hash, and nothing is copied through shared memory. A
   * FileBody is copied into its place by the worker (hashed on the way) while this thread writes what follows;
   * its fd is closed here once copied. The file is fsynced at the end unless `sync` is false (the caller does it).
   * Chunks may be reused once the iteration goes on.
   */
  async writeFollowed(
    path: string,
    chunks: AsyncIterable<Buffer | FileBody>,
    sync = true,
  ): Promise<{ digest: Digest; size: number }> {
    const { w, reply } = this.claim();
    let fd: number | undefined;
    let posted = false;
    /** Source fds of the posted regions the worker may still read (the oldest first). */
    const sources: number[] = [];
    let regions = 0;
    const closeCopied = (all: boolean): void => {
      const copied = all ? regions : Atomics.load(this.ctrl, COPIED);
      while (sources.length > regions - copied) closeSync(sources.shift()!);
    };
    try {
      fd = openSync(path, 'w', 0o644);
      w.ref();
      w.postMessage({ kind: 'follow', path } satisfies HashJob);
      posted = true;
      let pos = 0;
      for await (const c of chunks) {
        if (Atomics.load(this.ctrl, STATE) === State.FAILED) {
          // the worker failed (its reply says why)
          if (!Buffer.isBuffer(c)) closeSync(c.fd);
          break;
        }
        if (Buffer.isBuffer(c)) {
          let off = 0;
          while (off < c.length) off += writeSync(fd, c, off, c.length - off, pos + off);
          pos += c.length;
        } else {
          sources.push(c.fd);
          await this.postRegion(regions++, pos, c);
          pos += c.size;
          closeCopied(false);
        }
        Atomics.store(this.written, 0, BigInt(pos));
        Atomics.add(this.ctrl, PSEQ, 1);
        Atomics.notify(this.ctrl, PSEQ);
      }
      this.signal(State.END);
      const r = await reply;
      if (r.error) throw new StoreError(`writing ${path} failed: ${r.error}`, { path });
      if (r.size !== pos)
        throw new StoreError(`writing ${path} failed: ${pos} bytes written, ${r.size} hashed`, { path });
      if (sync) await fsyncFd(fd);
      return { digest: r.digest as Digest, size: pos };
    } catch (e) {
      if (posted) {
        if (Atomics.load(this.ctrl, STATE) === State.RUN) this.signal(State.ABORT);
        await reply.catch(() => undefined);
      }
      throw e;
    } finally {
      // the worker has stopped (replied): no region is read any more
      closeCopied(true);
      if (fd !== undefined) closeSync(fd);
      this.worker?.unref();
      this.inUse = false;
    }
  }

  /** Waits until region `n` fits in the worker's queue (letting events through, see push). */
  private async waitForRegionRoom(n: number): Promise<void> {
    for (;;) {
      const seq = Atomics.load(this.ctrl, CSEQ);
      this.checkFailed();
      if (n - Atomics.load(this.ctrl, COPIED) < REGIONS) return;
      await this.waitConsumed(seq);
    }
  }

  /** Queues region `n` (a large file's body at `at`) for the worker. */
  private async postRegion(n: number, at: number, body: FileBody): Promise<void> {
    await this.waitForRegionRoom(n);
    const q = n % REGIONS;
    this.regions[3 * q] = BigInt(at);
    this.regions[3 * q + 1] = BigInt(body.size);
    this.regions[3 * q + 2] = BigInt(body.offset ?? 0);
    this.regionFds[q] = body.fd;
    Atomics.store(this.ctrl, POSTED, n + 1);
  }

  /**
   * Decompresses (gzip or plain, by magic) and hashes a layer blob on the worker thread; yields the uncompressed
   * bytes. A yielded chunk stays valid until the one after the next is asked for (readers keep one chunk of
   * look-behind). `digest()` resolves to the diffID once the chunks are exhausted. `files` (unless another unpack
   * still has the file ring) queues small files for the worker to write while the reader holds the slots; the
   * caller ends or aborts it.
   */
  inflate(path: string): {
    chunks: AsyncGenerator<Buffer>;
    result: Promise<{ digest: Digest; size: number }>;
    files: WriterSession | undefined;
  } {
    const { w, reply: msg } = this.claim();
    const files = this.files.busy
      ? undefined
      : this.files.begin(
          () => {
            Atomics.add(this.ctrl, CSEQ, 1);
            Atomics.notify(this.ctrl, CSEQ);
          },
          () => this.worker === w,
          (broken) => {
            if (broken && this.worker === w) {
              this.worker = undefined;
              void w.terminate();
            }
          },
        );
    w.ref();
    w.postMessage({ kind: 'inflate', path } satisfies HashJob);
    const ctrl = this.ctrl;
    const lens = this.lens;
    const data = this.data;
    let finished = false;
    const finish = async (abort: boolean): Promise<void> => {
      if (finished) return;
      finished = true;
      if (abort) {
        Atomics.store(ctrl, STATE, State.ABORT);
        Atomics.add(ctrl, CSEQ, 1);
        Atomics.notify(ctrl, CSEQ);
      }
      // the worker's last message may still be in flight: keep the worker referenced until it has arrived, or
      // an otherwise idle event loop would end the process before it is delivered
      await msg.catch(() => undefined);
      this.worker?.unref();
      this.inUse = false;
    };
    const chunks = (async function* (): AsyncGenerator<Buffer> {
      let ok = false;
      try {
        for (;;) {
          const seq = Atomics.load(ctrl, PSEQ);
          const tail = Atomics.load(ctrl, TAIL);
          if (tail < Atomics.load(ctrl, HEAD)) {
            const slot = tail % SLOTS;
            yield data.subarray(slot * SLOT, slot * SLOT + lens[slot]!);
            // release the slot before the one just read: the reader may still hold this one's tail
            Atomics.store(ctrl, TAIL, tail + 1);
            Atomics.add(ctrl, CSEQ, 1);
            Atomics.notify(ctrl, CSEQ);
            continue;
          }
          const state = Atomics.load(ctrl, STATE);
          if (state === State.END) {
            ok = true;
            return;
          }
          if (state === State.FAILED) {
            const m = await msg;
            throw new StoreError(m.error ?? 'the layer reader thread failed', { path });
          }
          // wait without blocking the event loop for long: the worker is usually ahead
          if (Atomics.wait(ctrl, PSEQ, seq, 5) === 'timed-out') await new Promise((r) => setImmediate(r));
        }
      } finally {
        await finish(!ok);
      }
    })();
    const result = msg.then((m) => {
      if (m.error) throw new StoreError(m.error, { path });
      if (m.aborted || !m.digest) throw new StoreError(`reading ${path} was aborted`, { path });
      return { digest: m.digest as Digest, size: m.size! };
    });
    result.catch(() => undefined);
    return { chunks, result, files };
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}
