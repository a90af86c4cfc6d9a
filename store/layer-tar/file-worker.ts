// The thread side of the file ring (file-writer.ts), as source text evaluated in a worker so that it runs whether the
// host is CommonJS, ESM or vitest's TypeScript. FILE_SERVER_SOURCE defines fileServer(), which HashWriter's worker
// runs between inflating slots (hash-worker.ts) and FileWriter's own worker runs alone (FILE_WORKER_SOURCE).
// Each record (8-byte aligned; a record length of 0 means "the rest of the ring is unused, go on at its start"):
//   0 u32 record length   4 u32 flags (1 fchown, 2 fchmod)   8 u32 mode   12 u32 uid   16 u32 gid
//   20 u32 path length    24 u32 body size   28 -   32 f64 mtime (s)   40 the absolute path (utf8), then the body
// ctrl slots (Int32) and states: FILE_CTRL below. A failure stops the session: its message goes to `err`.

/** ctrl slots of the file ring, and the values of REQ (the main thread's) and WSTATE (the serving thread's). */
export const FILE_CTRL = {
  HEAD: 0, // bytes queued, mod 2^32 (main thread)
  TAIL: 1, // bytes consumed, mod 2^32 (whoever serves)
  PSEQ: 2, // bumped by the main thread to wake a dedicated worker
  CSEQ: 3, // bumped by the serving thread on every record and state change
  REQ: 4,
  WSTATE: 5,
  DONE: 6, // records written
  ERRLEN: 7,
  RUN: 0,
  END: 1, // write what is queued, then stop
  ABORT: 2, // stop now
  IDLE: 0,
  RUNNING: 1,
  STOPPED: 2, // ended, aborted, or let go by HashWriter's worker (the main thread writes the rest)
  FAILED: 3,
} as const;

/** Defines `fileServer(ctrlBuf, ringBuf, errBuf, RING, C)` → { step(): boolean, detach(): void }; needs `fs`. */
export const FILE_SERVER_SOURCE = `
function fileServer(ctrlBuf, ringBuf, errBuf, RING, C) {
  const ctrl = new Int32Array(ctrlBuf);
  const ring = Buffer.from(ringBuf);
  const errb = Buffer.from(errBuf);
  const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
  const OPEN = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;
  const stop = (state) => {
    Atomics.store(ctrl, C.WSTATE, state);
    Atomics.add(ctrl, C.CSEQ, 1);
    Atomics.notify(ctrl, C.CSEQ);
  };
  const write = (off) => {
    const flags = ring.readUInt32LE(off + 4);
    const plen = ring.readUInt32LE(off + 20);
    const size = ring.readUInt32LE(off + 24);
    const mtime = ring.readDoubleLE(off + 32);
    const fd = fs.openSync(ring.subarray(off + 40, off + 40 + plen), OPEN, 0o666);
    try {
      let p = off + 40 + plen;
      const end = p + size;
      while (p < end) p += fs.writeSync(fd, ring, p, end - p);
      if (flags & 1) fs.fchownSync(fd, ring.readUInt32LE(off + 12), ring.readUInt32LE(off + 16));
      if (flags & 2) fs.fchmodSync(fd, ring.readUInt32LE(off + 8));
      fs.futimesSync(fd, mtime, mtime);
    } finally {
      fs.closeSync(fd);
    }
  };
  return {
    // Writes the next queued file, if any. False when there is nothing to do (the session may have just stopped).
    step() {
      if (Atomics.load(ctrl, C.WSTATE) !== C.RUNNING) return false;
      const req = Atomics.load(ctrl, C.REQ);
      if (req === C.ABORT) {
        stop(C.STOPPED);
        return false;
      }
      const tail = Atomics.load(ctrl, C.TAIL) >>> 0;
      if ((Atomics.load(ctrl, C.HEAD) >>> 0) === tail) {
        if (req === C.END) stop(C.STOPPED);
        return false;
      }
      const off = tail & (RING - 1);
      const len = ring.readUInt32LE(off);
      if (len === 0) {
        Atomics.store(ctrl, C.TAIL, (tail + RING - off) >>> 0);
        return true;
      }
      try {
        write(off);
      } catch (e) {
        const msg = Buffer.from(String((e && e.message) || e));
        Atomics.store(ctrl, C.ERRLEN, msg.copy(errb, 0, 0, errb.length));
        stop(C.FAILED);
        return false;
      }
      Atomics.store(ctrl, C.TAIL, (tail + len) >>> 0);
      Atomics.add(ctrl, C.DONE, 1);
      Atomics.add(ctrl, C.CSEQ, 1);
      Atomics.notify(ctrl, C.CSEQ);
      return true;
    },
    // Lets go of a running session: the main thread writes what is left.
    detach() {
      if (Atomics.load(ctrl, C.WSTATE) === C.RUNNING) stop(C.STOPPED);
    },
  };
}
`;

/** FileWriter's own worker: one message per session; serves the ring until the session stops. */
export const FILE_WORKER_SOURCE = `
const { parentPort, workerData } = process.getBuiltinModule('node:worker_threads');
const fs = process.getBuiltinModule('node:fs');
${FILE_SERVER_SOURCE}
const { ctrlBuf, ringBuf, errBuf, RING, C } = workerData;
const server = fileServer(ctrlBuf, ringBuf, errBuf, RING, C);
const ctrl = new Int32Array(ctrlBuf);
parentPort.on('message', () => {
  for (;;) {
    const seq = Atomics.load(ctrl, C.PSEQ);
    if (server.step()) continue;
    if (Atomics.load(ctrl, C.WSTATE) !== C.RUNNING) return;
    Atomics.wait(ctrl, C.PSEQ, seq);
  }
});
`;
