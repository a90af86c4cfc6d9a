// The source of FileWriter's worker thread (see file-writer.ts), evaluated as a string so that it runs whether the
// host is CommonJS, ESM or vitest's TypeScript. One message starts a session: the worker creates the files queued in
// the shared ring, in order, until the main thread asks it to end (after the ring is drained) or to abort (at once).
// Each record (8-byte aligned; a record length of 0 means "the rest of the ring is unused, go on at its start"):
//   0 u32 record length   4 u32 flags (1 fchown, 2 fchmod)   8 u32 mode   12 u32 uid   16 u32 gid
//   20 u32 path length    24 u32 body size   28 -   32 f64 mtime (s)   40 the absolute path (utf8), then the body
// ctrl (Int32): see file-writer.ts. A failure stops the session: its message goes to `err`, the state to FAILED.
export const FILE_WORKER_SOURCE = `
const { parentPort, workerData } = process.getBuiltinModule('node:worker_threads');
const fs = process.getBuiltinModule('node:fs');
const { ctrlBuf, ringBuf, errBuf, RING, C } = workerData;
const ctrl = new Int32Array(ctrlBuf);
const ring = Buffer.from(ringBuf);
const errb = Buffer.from(errBuf);
const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
const OPEN = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;

parentPort.on('message', run);

function run() {
  let tail = Atomics.load(ctrl, C.TAIL) >>> 0;
  let done = Atomics.load(ctrl, C.DONE);
  let state = C.STOPPED;
  try {
    for (;;) {
      const seq = Atomics.load(ctrl, C.PSEQ);
      const req = Atomics.load(ctrl, C.REQ);
      if (req === C.ABORT) break;
      const head = Atomics.load(ctrl, C.HEAD) >>> 0;
      if (head !== tail) {
        const off = tail & (RING - 1);
        const len = ring.readUInt32LE(off);
        if (len === 0) {
          tail = (tail + RING - off) >>> 0;
          Atomics.store(ctrl, C.TAIL, tail);
          continue;
        }
        write(off);
        tail = (tail + len) >>> 0;
        Atomics.store(ctrl, C.TAIL, tail);
        Atomics.store(ctrl, C.DONE, ++done);
        Atomics.add(ctrl, C.CSEQ, 1);
        Atomics.notify(ctrl, C.CSEQ);
        continue;
      }
      if (req === C.END) break;
      Atomics.wait(ctrl, C.PSEQ, seq);
    }
  } catch (e) {
    const msg = Buffer.from(String((e && e.message) || e));
    Atomics.store(ctrl, C.ERRLEN, msg.copy(errb, 0, 0, errb.length));
    state = C.FAILED;
  }
  Atomics.store(ctrl, C.WSTATE, state);
  Atomics.add(ctrl, C.CSEQ, 1);
  Atomics.notify(ctrl, C.CSEQ);
}

function write(off) {
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
}
`;
