// Creating a fresh layer's small files on a second thread (overlay mode, see unpack.ts): the main thread parses the
// tar, makes the directories and copies each small file's path, metadata and body into a shared-memory ring; the
// worker (file-worker.ts) does open/write/fchown/fchmod/futimes/close for each, in order. File creation is mostly
// kernel time, so the two threads create files on two cores; when the ring is full, the main thread writes the file
// itself rather than wait. One worker per process, started on first use and kept (unreferenced); one session (one
// unpack) at a time, others write on their own thread.
import { Worker } from 'node:worker_threads';
import { StoreError } from '../errors.js';
import { FILE_WORKER_SOURCE } from './file-worker.js';

/** Ring size (a power of two) and the largest body queued (larger files are written by the caller). */
const RING = 1 << 20;
export const MAX_QUEUED_BODY = 128 << 10;
/** Record header bytes (layout in file-worker.ts). */
const HDR = 40;
// ctrl slots. HEAD/TAIL are byte counts mod 2^32 (the main thread writes HEAD, the worker TAIL); REQ is the main
// thread's request (RUN, END: drain then stop, ABORT: stop now), WSTATE the worker's (RUNNING, STOPPED, FAILED);
// DONE counts the records written; PSEQ/CSEQ are bumped by producer/consumer to wake the other.
const C = { HEAD: 0, TAIL: 1, PSEQ: 2, CSEQ: 3, REQ: 4, WSTATE: 5, DONE: 6, ERRLEN: 7, RUN: 0, END: 1, ABORT: 2, RUNNING: 0, STOPPED: 1, FAILED: 2 } as const;
export const FLAG_CHOWN = 1;
export const FLAG_CHMOD = 2;
/** A wait without progress this long means the worker is gone (its exit event cannot arrive during a wait). */
const STALL_MS = 60_000;

export class FileWriter {
  private worker: Worker | undefined;
  private exited = false;
  private readonly ctrl = new Int32Array(new SharedArrayBuffer(8 * 4));
  private readonly ring = Buffer.from(new SharedArrayBuffer(RING));
  private readonly err = Buffer.from(new SharedArrayBuffer(1024));
  private session: WriterSession | undefined;

  private start(): Worker {
    if (!this.worker) {
      const w = new Worker(FILE_WORKER_SOURCE, {
        eval: true,
        // a small heap: the worker only makes a few short-lived objects per file
        resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 8 },
        workerData: { ctrlBuf: this.ctrl.buffer, ringBuf: this.ring.buffer, errBuf: this.err.buffer, RING, C },
      });
      w.unref();
      this.exited = false;
      const gone = (): void => {
        if (this.worker === w) {
          this.worker = undefined;
          this.exited = true;
        }
      };
      w.on('error', gone);
      w.on('exit', gone);
      this.worker = w;
    }
    return this.worker;
  }

  /** A session for one unpack, or undefined while another one runs. */
  begin(): WriterSession | undefined {
    if (this.session) return undefined;
    const w = this.start();
    this.ctrl.fill(0); // the worker is idle between sessions
    const s = new WriterSession(this.ctrl, this.ring, this.err, () => this.exited, (broken) => {
      if (this.session !== s) return;
      this.session = undefined;
      // a worker that stopped answering might still touch the ring: never reuse it
      if (broken && this.worker === w) {
        this.worker = undefined;
        void w.terminate();
      }
    });
    this.session = s;
    w.postMessage(0);
    return s;
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}

let shared: FileWriter | undefined;
/** The process's file writer. */
export function fileWriter(): FileWriter {
  return (shared ??= new FileWriter());
}

const align8 = (n: number): number => (n + 7) & ~7;

export class WriterSession {
  /** Records queued so far (a record's number is its count after it was queued). */
  jobs = 0;
  private head = 0;
  /** The reserved record: its ring offset, the bytes skipped before it (wrap), its path length and body size. */
  private pos = 0;
  private skip = 0;
  private plen = 0;
  private size = 0;
  private closed = false;

  constructor(
    private readonly ctrl: Int32Array,
    readonly ring: Buffer,
    private readonly err: Buffer,
    private readonly exited: () => boolean,
    private readonly release: (broken: boolean) => void,
  ) {}

  /** Throws the worker's failure, if any. */
  private check(): void {
    const st = Atomics.load(this.ctrl, C.WSTATE);
    if (st === C.FAILED) {
      const done = Atomics.load(this.ctrl, C.DONE);
      const msg = this.err.toString('utf8', 0, Atomics.load(this.ctrl, C.ERRLEN));
      throw new WriterError(done + 1, msg);
    }
    if (st === C.STOPPED && Atomics.load(this.ctrl, C.REQ) === C.RUN) throw new StoreError('the file writer thread stopped early');
    if (this.exited()) throw new StoreError('the file writer thread exited');
  }

  /**
   * Room in the ring for a file at `abs` with a body of `size` bytes: writes the path and returns the offset the
   * body goes to (the caller copies exactly `size` bytes there, then commits), or -1 when the ring is too full.
   */
  reserve(abs: string, size: number): number {
    this.check();
    const need = align8(HDR + abs.length * 3 + size); // a UTF-16 unit is at most 3 bytes of UTF-8
    const tail = Atomics.load(this.ctrl, C.TAIL) >>> 0;
    const used = (this.head - tail) >>> 0;
    let pos = this.head & (RING - 1);
    const skip = RING - pos < need ? RING - pos : 0;
    if (used + skip + need > RING) return -1;
    if (skip) {
      this.ring.writeUInt32LE(0, pos);
      pos = 0;
    }
    this.pos = pos;
    this.skip = skip;
    this.plen = this.ring.write(abs, pos + HDR, 'utf8');
    this.size = size;
    return pos + HDR + this.plen;
  }

  /** Queues the reserved record. Returns its number. */
  commit(flags: number, mode: number, uid: number, gid: number, mtime: number): number {
    const r = this.ring;
    const p = this.pos;
    const len = align8(HDR + this.plen + this.size);
    r.writeUInt32LE(len, p);
    r.writeUInt32LE(flags, p + 4);
    r.writeUInt32LE(mode, p + 8);
    r.writeUInt32LE(uid >>> 0, p + 12);
    r.writeUInt32LE(gid >>> 0, p + 16);
    r.writeUInt32LE(this.plen, p + 20);
    r.writeUInt32LE(this.size, p + 24);
    r.writeDoubleLE(mtime, p + 32);
    this.head = (this.head + this.skip + len) >>> 0;
    Atomics.store(this.ctrl, C.HEAD, this.head);
    Atomics.add(this.ctrl, C.PSEQ, 1);
    Atomics.notify(this.ctrl, C.PSEQ);
    return ++this.jobs;
  }

  /** True once record `n` is written. */
  isDone(n: number): boolean {
    return Atomics.load(this.ctrl, C.DONE) >= n;
  }

  /** Waits (blocking) until record `n` (default: all queued) is written; throws the worker's failure. */
  waitFor(n = this.jobs): void {
    let last = -1;
    let since = Date.now();
    for (;;) {
      const seq = Atomics.load(this.ctrl, C.CSEQ);
      const done = Atomics.load(this.ctrl, C.DONE);
      if (done >= n) return;
      this.check();
      if (done !== last) {
        last = done;
        since = Date.now();
      } else if (Date.now() - since > STALL_MS) {
        throw new StoreError('the file writer thread stopped responding');
      }
      Atomics.wait(this.ctrl, C.CSEQ, seq, 100);
    }
  }

  /** Asks the worker to stop (`end`: after the queue; `abort`: now) and waits until it has, letting events through. */
  private async stop(req: number): Promise<void> {
    Atomics.store(this.ctrl, C.REQ, req);
    Atomics.add(this.ctrl, C.PSEQ, 1);
    Atomics.notify(this.ctrl, C.PSEQ);
    let last = -1;
    let since = Date.now();
    for (;;) {
      const seq = Atomics.load(this.ctrl, C.CSEQ);
      if (Atomics.load(this.ctrl, C.WSTATE) !== C.RUNNING || this.exited()) return;
      const done = Atomics.load(this.ctrl, C.DONE);
      if (done !== last) {
        last = done;
        since = Date.now();
      } else if (Date.now() - since > STALL_MS) {
        throw new StoreError('the file writer thread stopped responding');
      }
      if (Atomics.wait(this.ctrl, C.CSEQ, seq, 20) === 'timed-out') await new Promise((r) => setImmediate(r));
    }
  }

  /** Writes what is queued and ends the session; throws the worker's failure. */
  async end(): Promise<void> {
    if (this.closed) return;
    let broken = true;
    try {
      await this.stop(C.END);
      broken = false;
      this.check();
      if (Atomics.load(this.ctrl, C.DONE) !== this.jobs) throw new StoreError('the file writer thread stopped early');
    } finally {
      this.closed = true;
      this.release(broken);
    }
  }

  /** Ends the session without writing the rest of the queue (a file being written when asked is finished). */
  async abort(): Promise<void> {
    if (this.closed) return;
    let broken = true;
    try {
      await this.stop(C.ABORT);
      broken = false;
    } finally {
      this.closed = true;
      this.release(broken);
    }
  }
}

/** The worker could not write record `job`. */
export class WriterError extends Error {
  constructor(
    readonly job: number,
    message: string,
  ) {
    super(message);
  }
}
