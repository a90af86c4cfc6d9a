// Creating a fresh layer's small files on another thread (overlay mode, see unpack.ts): the main thread parses the
// tar, makes the directories and copies each small file's path, metadata and body into a shared-memory ring; the
// other thread does open/write/fchown/fchmod/futimes/close for each, in order. File creation is mostly kernel time,
// so two threads create files on two cores; when the ring is full, the main thread writes the file itself rather
// than wait. The thread is HashWriter's (hash-worker.ts): while it inflates a layer blob for the unpack it writes
// queued files whenever the main thread has not yet taken its slots (it is idle most of that time otherwise), and
// lets go of the ring when the blob ends; the main thread writes what is left. Without it (a stream from elsewhere),
// FileWriter's own worker serves the ring. A COPY queues the small files it creates in directories it made itself
// the same way (builder/steps/upper.ts). The thread side is in file-server.ts (run by file-worker.ts); what both
// sides share is file-protocol.ts.
import type { Worker } from 'node:worker_threads';
import { StoreError } from '../errors.js';
import { startWorker } from '../worker-file.js';
import { FILE_CTRL as C, FILE_CTRL_SLOTS, type FileServerData, Rec, RING } from './file-protocol.js';
import { writeRecord } from './file-server.js';

export { FLAG_CHMOD, FLAG_CHOWN } from './file-protocol.js';
/** The largest body queued (larger files are written by the caller). */
export const MAX_QUEUED_BODY = 128 << 10;
/** Record header bytes. */
const HDR = Rec.PATH;
/** A wait without progress this long means the serving thread is gone (its exit event cannot arrive meanwhile). */
const STALL_MS = 60_000;

/** The shared memory of one file ring; its owner hands it to the serving thread once, in workerData. */
export class FileRing {
  readonly ctrl = new Int32Array(new SharedArrayBuffer(FILE_CTRL_SLOTS * 4));
  readonly ring = Buffer.from(new SharedArrayBuffer(RING));
  readonly err = Buffer.from(new SharedArrayBuffer(1024));
  private session: WriterSession | undefined;

  /** What the serving thread needs (file-server.ts). */
  workerData(): FileServerData {
    return {
      fileCtrlBuf: this.ctrl.buffer as SharedArrayBuffer,
      fileRingBuf: this.ring.buffer as SharedArrayBuffer,
      fileErrBuf: this.err.buffer as SharedArrayBuffer,
    };
  }

  get busy(): boolean {
    return this.session !== undefined;
  }

  /**
   * Starts a session (the ring is idle: no session, and the thread left the last one). `wake` makes the serving
   * thread look at the ring; `alive` is false once it has exited; `release(broken)` runs when the session ends.
   */
  begin(wake: () => void, alive: () => boolean, release: (broken: boolean) => void): WriterSession {
    if (this.session) throw new Error('the file ring has a session already');
    const ctrl = this.ctrl;
    for (const i of [C.HEAD, C.TAIL, C.DONE, C.ERRLEN]) Atomics.store(ctrl, i, 0);
    Atomics.store(ctrl, C.REQ, C.RUN);
    Atomics.store(ctrl, C.WSTATE, C.RUNNING); // last: the thread serves nothing before
    const s = new WriterSession(this, wake, alive, (broken) => {
      if (this.session === s) this.session = undefined;
      release(broken);
    });
    this.session = s;
    return s;
  }
}

/** FileWriter's own worker, for unpacks without a HashWriter. One per process, started on first use. */
export class FileWriter {
  private worker: Worker | undefined;
  private exited = false;
  private readonly files = new FileRing();

  private start(): Worker {
    if (!this.worker) {
      const w = startWorker('file-worker', import.meta.url, this.files.workerData());
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
    if (this.files.busy) return undefined;
    const w = this.start();
    const ctrl = this.files.ctrl;
    const s = this.files.begin(
      () => {
        Atomics.add(ctrl, C.PSEQ, 1);
        if (Atomics.load(ctrl, C.SLEEPING) === 1) Atomics.notify(ctrl, C.PSEQ);
      },
      () => !this.exited,
      (broken) => {
        // a worker that stopped answering might still touch the ring: never reuse it
        if (broken && this.worker === w) {
          this.worker = undefined;
          void w.terminate();
        }
      },
    );
    w.postMessage(0);
    return s;
  }
}

let shared: FileWriter | undefined;
/** The process's own file writer. */
export function fileWriter(): FileWriter {
  return (shared ??= new FileWriter());
}

const align8 = (n: number): number => (n + 7) & ~7;

export class WriterSession {
  /** Records queued so far (a record's number is its count after it was queued). */
  jobs = 0;
  readonly ring: Buffer;
  private readonly ctrl: Int32Array;
  private head = 0;
  /** The reserved record: its ring offset, the bytes skipped before it (wrap), its path length and body size. */
  private pos = 0;
  private skip = 0;
  private plen = 0;
  private size = 0;
  private closed = false;

  constructor(
    private readonly files: FileRing,
    private readonly wake: () => void,
    private readonly alive: () => boolean,
    private readonly release: (broken: boolean) => void,
  ) {
    this.ring = files.ring;
    this.ctrl = files.ctrl;
  }

  /** Throws the serving thread's failure, if any. */
  private check(): void {
    if (Atomics.load(this.ctrl, C.WSTATE) === C.FAILED) {
      const done = Atomics.load(this.ctrl, C.DONE);
      const msg = this.files.err.toString('utf8', 0, Atomics.load(this.ctrl, C.ERRLEN));
      throw new WriterError(done + 1, msg);
    }
  }

  /** True while the thread serves the ring (else this thread writes what is queued, see writeQueued). */
  private get served(): boolean {
    return Atomics.load(this.ctrl, C.WSTATE) === C.RUNNING && this.alive();
  }

  /**
   * Room in the ring for a file at `abs` with a body of `size` bytes: writes the path and returns the offset the
   * body goes to (the caller copies exactly `size` bytes there, then commits), or -1 when the ring is too full or
   * no thread serves it any more.
   */
  reserve(abs: string, size: number): number {
    this.check();
    if (!this.served) return -1;
    const need = align8(HDR + abs.length * 3 + size); // a UTF-16 unit is at most 3 bytes of UTF-8
    const tail = Atomics.load(this.ctrl, C.TAIL) >>> 0;
    const used = (this.head - tail) >>> 0;
    let pos = this.head & (RING - 1);
    const skip = RING - pos < need ? RING - pos : 0;
    if (used + skip + need > RING) return -1;
    if (skip) {
      this.ring.writeUInt32LE(0, pos + Rec.LEN);
      pos = 0;
    }
    this.pos = pos;
    this.skip = skip;
    this.plen = this.ring.write(abs, pos + HDR, 'utf8');
    this.size = size;
    return pos + HDR + this.plen;
  }

  /** Queues the reserved record (times in seconds; the access time is the modification time unless given). */
  commit(flags: number, mode: number, uid: number, gid: number, mtime: number, atime = mtime): number {
    const r = this.ring;
    const p = this.pos;
    const len = align8(HDR + this.plen + this.size);
    r.writeUInt32LE(len, p + Rec.LEN);
    r.writeUInt32LE(flags, p + Rec.FLAGS);
    r.writeUInt32LE(mode, p + Rec.MODE);
    r.writeUInt32LE(uid >>> 0, p + Rec.UID);
    r.writeUInt32LE(gid >>> 0, p + Rec.GID);
    r.writeUInt32LE(this.plen, p + Rec.PATH_LEN);
    r.writeUInt32LE(this.size, p + Rec.BODY_SIZE);
    r.writeDoubleLE(mtime, p + Rec.MTIME);
    r.writeDoubleLE(atime, p + Rec.ATIME);
    this.head = (this.head + this.skip + len) >>> 0;
    Atomics.store(this.ctrl, C.HEAD, this.head);
    this.wake();
    return ++this.jobs;
  }

  /** True once record `n` is written. */
  isDone(n: number): boolean {
    return Atomics.load(this.ctrl, C.DONE) >= n;
  }

  /**
   * Writes queued records on this thread up to record `n`; only once the serving thread has let go of the ring
   * (it never touches it again in this session).
   */
  private writeQueued(n: number): void {
    const ctrl = this.ctrl;
    const r = this.ring;
    while (Atomics.load(ctrl, C.DONE) < n) {
      const tail = Atomics.load(ctrl, C.TAIL) >>> 0;
      const off = tail & (RING - 1);
      const len = r.readUInt32LE(off + Rec.LEN);
      if (len === 0) {
        Atomics.store(ctrl, C.TAIL, (tail + RING - off) >>> 0);
        continue;
      }
      try {
        writeRecord(r, off);
      } catch (e) {
        throw new WriterError(Atomics.load(ctrl, C.DONE) + 1, (e as Error).message);
      }
      Atomics.store(ctrl, C.TAIL, (tail + len) >>> 0);
      Atomics.add(ctrl, C.DONE, 1);
    }
  }

  /** Waits (blocking) until record `n` (default: all queued) is written; throws a failure to write one. */
  waitFor(n = this.jobs): void {
    let last = -1;
    let since = Date.now();
    for (;;) {
      const seq = Atomics.load(this.ctrl, C.CSEQ);
      const done = Atomics.load(this.ctrl, C.DONE);
      if (done >= n) return;
      this.check();
      if (!this.served) return this.writeQueued(n);
      if (done !== last) {
        last = done;
        since = Date.now();
      } else if (Date.now() - since > STALL_MS) {
        throw new StoreError('the file writer thread stopped responding');
      }
      Atomics.wait(this.ctrl, C.CSEQ, seq, 50);
    }
  }

  /** Asks the thread to leave the ring (`END`: after the queue; `ABORT`: now) and waits, letting events through. */
  private async stop(req: number): Promise<void> {
    Atomics.store(this.ctrl, C.REQ, req);
    this.wake();
    let last = -1;
    let since = Date.now();
    for (;;) {
      const seq = Atomics.load(this.ctrl, C.CSEQ);
      if (!this.served) return;
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

  /** Writes what is queued (what the thread left, here) and ends the session; throws a failure to write one. */
  async end(): Promise<void> {
    if (this.closed) return;
    let broken = true;
    try {
      await this.stop(C.END);
      broken = false;
      this.check();
      if (!this.alive() && Atomics.load(this.ctrl, C.WSTATE) === C.RUNNING) {
        // the thread exited in the middle of a record: that file may be half written
        throw new StoreError('the file writer thread exited');
      }
      this.writeQueued(this.jobs);
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

/** Record `job` could not be written. */
export class WriterError extends Error {
  constructor(
    readonly job: number,
    message: string,
  ) {
    super(message);
  }
}
