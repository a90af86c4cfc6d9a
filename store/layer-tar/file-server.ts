// The serving side of the file ring (file-writer.ts): writes queued records in order. HashWriter's worker runs it
// between inflating slots (hash-worker.ts); FileWriter's own worker runs it alone (file-worker.ts). The main thread
// uses writeRecord too, for what a thread left queued.
import * as fs from 'node:fs';
import { FILE_CTRL as C, type FileServerData, FLAG_CHMOD, FLAG_CHOWN, Rec, RING } from './file-protocol.js';

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
const OPEN = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;

/** Creates the file of the record at `off` (it must not exist) with its body, owner, mode and times. */
export function writeRecord(ring: Buffer, off: number): void {
  const flags = ring.readUInt32LE(off + Rec.FLAGS);
  const plen = ring.readUInt32LE(off + Rec.PATH_LEN);
  const size = ring.readUInt32LE(off + Rec.BODY_SIZE);
  const mtime = ring.readDoubleLE(off + Rec.MTIME);
  const atime = ring.readDoubleLE(off + Rec.ATIME);
  const fd = fs.openSync(ring.subarray(off + Rec.PATH, off + Rec.PATH + plen), OPEN, 0o666);
  try {
    let p = off + Rec.PATH + plen;
    const end = p + size;
    while (p < end) p += fs.writeSync(fd, ring, p, end - p);
    if (flags & FLAG_CHOWN) fs.fchownSync(fd, ring.readUInt32LE(off + Rec.UID), ring.readUInt32LE(off + Rec.GID));
    if (flags & FLAG_CHMOD) fs.fchmodSync(fd, ring.readUInt32LE(off + Rec.MODE));
    fs.futimesSync(fd, atime, mtime);
  } finally {
    fs.closeSync(fd);
  }
}

export interface FileServer {
  /** Writes the next queued file, if any. False when there is nothing to do (the session may have just stopped). */
  step(): boolean;
  /** Lets go of a running session: the main thread writes what is left. */
  detach(): void;
}

/** Serves the ring in `d` on this thread. */
export function fileServer(d: FileServerData): FileServer {
  const ctrl = new Int32Array(d.fileCtrlBuf);
  const ring = Buffer.from(d.fileRingBuf);
  const errb = Buffer.from(d.fileErrBuf);
  const stop = (state: number): void => {
    Atomics.store(ctrl, C.WSTATE, state);
    Atomics.add(ctrl, C.CSEQ, 1);
    Atomics.notify(ctrl, C.CSEQ);
  };
  return {
    step() {
      if (Atomics.load(ctrl, C.WSTATE) !== C.RUNNING) return false;
      const req = Atomics.load(ctrl, C.REQ);
      if (req === C.ABORT) {
        stop(C.STOPPED);
        return false;
      }
      const tail = Atomics.load(ctrl, C.TAIL) >>> 0;
      if (Atomics.load(ctrl, C.HEAD) >>> 0 === tail) {
        if (req === C.END) stop(C.STOPPED);
        return false;
      }
      const off = tail & (RING - 1);
      const len = ring.readUInt32LE(off + Rec.LEN);
      if (len === 0) {
        Atomics.store(ctrl, C.TAIL, (tail + RING - off) >>> 0);
        return true;
      }
      try {
        writeRecord(ring, off);
      } catch (e) {
        const msg = Buffer.from(e instanceof Error ? e.message : String(e));
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
    detach() {
      if (Atomics.load(ctrl, C.WSTATE) === C.RUNNING) stop(C.STOPPED);
    },
  };
}
