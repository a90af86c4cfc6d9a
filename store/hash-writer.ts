// Hashing and writing a blob on a second thread while the main thread produces it (the layer diff): the two
// halves of a commit run on two cores. Chunks pass through a ring of shared-memory slots (one copy, no
// allocation); Atomics coordinate the two sides. One worker per store, started on first use and reused.
import { Worker } from 'node:worker_threads';
import type { Digest } from '../oci/types.js';
import { StoreError } from './errors.js';

/** The worker's one message per job. */
interface WorkerReply {
  digest?: string;
  size?: number;
  error?: string;
  aborted?: boolean;
}

const SLOTS = 4;
const SLOT = 1 << 20;
// ctrl: 0 head (slots produced), 1 tail (slots consumed), 2 state (0 run, 1 end, 2 worker error, 3 abort),
//       3 producer sequence (bumped on every push/end/abort), 4 consumer sequence (bumped on every consume)
const HEAD = 0;
const TAIL = 1;
const STATE = 2;
const PSEQ = 3;
const CSEQ = 4;

const WORKER_SOURCE = `
const { parentPort, workerData } = process.getBuiltinModule('node:worker_threads');
const fs = process.getBuiltinModule('node:fs');
const { createHash } = process.getBuiltinModule('node:crypto');
const { ctrlBuf, lensBuf, dataBuf, SLOTS, SLOT } = workerData;
const ctrl = new Int32Array(ctrlBuf);
const lens = new Int32Array(lensBuf);
const data = Buffer.from(dataBuf);
parentPort.on('message', (m) => {
  if (m.kind === 'inflate') return inflate(m);
  let fd;
  try {
    fd = fs.openSync(m.path, 'w', 0o644);
    const hash = createHash('sha256');
    let size = 0;
    for (;;) {
      const seq = Atomics.load(ctrl, 3);
      const tail = Atomics.load(ctrl, 1);
      const state = Atomics.load(ctrl, 2);
      if (state === 3) break;
      if (tail < Atomics.load(ctrl, 0)) {
        const slot = tail % SLOTS;
        const view = data.subarray(slot * SLOT, slot * SLOT + lens[slot]);
        hash.update(view);
        let off = 0;
        while (off < view.length) off += fs.writeSync(fd, view, off, view.length - off);
        size += view.length;
        Atomics.store(ctrl, 1, tail + 1);
        Atomics.add(ctrl, 4, 1);
        Atomics.notify(ctrl, 4);
        continue;
      }
      if (state === 1) {
        if (m.path !== '/dev/null') fs.fsyncSync(fd);
        fs.closeSync(fd);
        fd = undefined;
        parentPort.postMessage({ digest: 'sha256:' + hash.digest('hex'), size });
        return;
      }
      Atomics.wait(ctrl, 3, seq);
    }
    fs.closeSync(fd);
    parentPort.postMessage({ aborted: true });
  } catch (e) {
    if (fd !== undefined) try { fs.closeSync(fd); } catch {}
    Atomics.store(ctrl, 2, 2);
    Atomics.add(ctrl, 4, 1);
    Atomics.notify(ctrl, 4);
    parentPort.postMessage({ error: String(e && e.message || e) });
  }
});

// inflate: read a layer blob, decompress it (gzip or plain, by magic), hash the result (the diffID) and hand it to
// the main thread through the ring. Here the worker produces (head) and the main thread consumes (tail).
async function inflate(m) {
  const zlib = process.getBuiltinModule('node:zlib');
  const hash = createHash('sha256');
  let size = 0;
  const put = (chunk) => {
    for (let off = 0; off < chunk.length; off += SLOT) {
      const piece = chunk.subarray(off, Math.min(off + SLOT, chunk.length));
      for (;;) {
        const seq = Atomics.load(ctrl, 4);
        if (Atomics.load(ctrl, 2) === 3) throw new Error('aborted');
        const head = Atomics.load(ctrl, 0);
        if (head - Atomics.load(ctrl, 1) < SLOTS - 1) {
          const slot = head % SLOTS;
          piece.copy(data, slot * SLOT);
          lens[slot] = piece.length;
          Atomics.store(ctrl, 0, head + 1);
          Atomics.add(ctrl, 3, 1);
          Atomics.notify(ctrl, 3);
          break;
        }
        Atomics.wait(ctrl, 4, seq, 1000);
      }
    }
  };
  try {
    const fd = fs.openSync(m.path, 'r');
    const head = Buffer.alloc(4);
    const n = fs.readSync(fd, head, 0, 4, 0);
    fs.closeSync(fd);
    if (n >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) throw new Error('zstd-compressed layers are not supported (Node 20 has no zstd decoder)');
    let src = fs.createReadStream(m.path, { highWaterMark: 1 << 20 });
    if (n >= 2 && head[0] === 0x1f && head[1] === 0x8b) src = src.pipe(zlib.createGunzip({ chunkSize: 1 << 20 }));
    for await (const c of src) {
      hash.update(c);
      size += c.length;
      put(c);
    }
    Atomics.store(ctrl, 2, 1);
    Atomics.add(ctrl, 3, 1);
    Atomics.notify(ctrl, 3);
    parentPort.postMessage({ digest: 'sha256:' + hash.digest('hex'), size });
  } catch (e) {
    const aborted = Atomics.load(ctrl, 2) === 3;
    Atomics.store(ctrl, 2, 2);
    Atomics.add(ctrl, 3, 1);
    Atomics.notify(ctrl, 3);
    parentPort.postMessage(aborted ? { aborted: true } : { error: String(e && e.message || e) });
  }
}
`;

export class HashWriter {
  private worker: Worker | undefined;
  private readonly ctrl = new Int32Array(new SharedArrayBuffer(8 * 4));
  private readonly lens = new Int32Array(new SharedArrayBuffer(SLOTS * 4));
  private readonly data = Buffer.from(new SharedArrayBuffer(SLOTS * SLOT));
  private inUse = false;

  private start(): Worker {
    if (!this.worker) {
      this.worker = new Worker(WORKER_SOURCE, {
        eval: true,
        // works whether the host runs as CommonJS or ESM; a small heap: the worker only hashes and writes
        resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 16 },
        workerData: { ctrlBuf: this.ctrl.buffer, lensBuf: this.lens.buffer, dataBuf: this.data.buffer, SLOTS, SLOT },
      });
      this.worker.unref();
    }
    return this.worker;
  }

  private push(chunk: Buffer): void {
    for (let off = 0; off < chunk.length; off += SLOT) {
      const piece = chunk.subarray(off, Math.min(off + SLOT, chunk.length));
      for (;;) {
        const seq = Atomics.load(this.ctrl, CSEQ);
        if (Atomics.load(this.ctrl, STATE) === 2) throw new StoreError('the blob writer thread failed');
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
        Atomics.wait(this.ctrl, CSEQ, seq, 1000);
      }
    }
  }

  private signal(state: number): void {
    Atomics.store(this.ctrl, STATE, state);
    Atomics.add(this.ctrl, PSEQ, 1);
    Atomics.notify(this.ctrl, PSEQ);
  }

  /** True while a write is in progress (callers then hash inline instead). */
  get busy(): boolean {
    return this.inUse;
  }

  /** Takes the worker for one job (one at a time) and returns the promise of its one reply message. */
  private claim(): { w: Worker; reply: Promise<WorkerReply> } {
    if (this.inUse) throw new Error('HashWriter is single-use at a time');
    this.inUse = true;
    const w = this.start();
    this.ctrl.fill(0);
    const reply = new Promise<WorkerReply>((resolve, reject) => {
      const onMessage = (m: WorkerReply): void => {
        w.off('error', onError);
        resolve(m);
      };
      const onError = (e: Error): void => {
        w.off('message', onMessage);
        this.worker = undefined;
        reject(e);
      };
      w.once('message', onMessage);
      w.once('error', onError);
    });
    reply.catch(() => undefined);
    return { w, reply };
  }

  /**
   * Starts writing `path` (fsynced at the end; `/dev/null` to only hash) on the worker thread. Each `push` copies
   * the chunk into shared memory, so the caller may reuse or pass it on at once.
   */
  begin(path: string): { push(chunk: Buffer): void; end(): Promise<{ digest: Digest; size: number }>; abort(): Promise<void> } {
    const { w, reply: result } = this.claim();
    w.ref();
    w.postMessage({ path });
    const finish = (): void => {
      this.worker?.unref();
      this.inUse = false;
    };
    return {
      push: (chunk) => this.push(chunk),
      end: async () => {
        try {
          this.signal(1);
          const r = await result;
          if (r.error) throw new StoreError(`writing ${path} failed: ${r.error}`, { path });
          return { digest: r.digest as Digest, size: r.size! };
        } finally {
          finish();
        }
      },
      abort: async () => {
        try {
          this.signal(3);
          await result.catch(() => undefined);
        } finally {
          finish();
        }
      },
    };
  }

  /** Writes `chunks` to `path` (fsynced), hashing on the worker thread. Chunks may be reused once consumed. */
  async write(path: string, chunks: AsyncIterable<Buffer>): Promise<{ digest: Digest; size: number }> {
    const job = this.begin(path);
    try {
      for await (const c of chunks) job.push(c);
    } catch (e) {
      await job.abort();
      throw e;
    }
    return job.end();
  }

  /**
   * Decompresses (gzip or plain, by magic) and hashes a layer blob on the worker thread; yields the uncompressed
   * bytes. A yielded chunk stays valid until the one after the next is asked for (readers keep one chunk of
   * look-behind). `digest()` resolves to the diffID once the chunks are exhausted.
   */
  inflate(path: string): { chunks: AsyncGenerator<Buffer>; result: Promise<{ digest: Digest; size: number }> } {
    const { w, reply: msg } = this.claim();
    w.ref();
    w.postMessage({ kind: 'inflate', path });
    const ctrl = this.ctrl;
    const lens = this.lens;
    const data = this.data;
    let finished = false;
    const finish = async (abort: boolean): Promise<void> => {
      if (finished) return;
      finished = true;
      if (abort) {
        Atomics.store(ctrl, STATE, 3);
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
          if (state === 1) {
            ok = true;
            return;
          }
          if (state === 2) {
            const m = await msg;
            throw new StoreError(m.error ?? 'the layer reader thread failed', { path });
          }
          // wait without blocking the event loop for long: the worker is usually ahead
          if (Atomics.wait(ctrl, PSEQ, seq, 5) === "timed-out") await new Promise((r) => setImmediate(r));
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
    return { chunks, result };
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}
