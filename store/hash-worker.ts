// HashWriter's worker thread (hash-writer.ts); the protocol is in hash-protocol.ts. Started from its compiled file
// (worker-file.ts). It runs one job at a time, all without per-chunk allocation: the worker's small heap would
// otherwise hold many dead slot-sized buffers between collections.
//  - write:   consume the shared-memory ring (main thread produces), hash and write to a file (or /dev/null).
//  - follow:  hash a file the main thread is writing, reading it back behind the writer (page cache) up to the
//             byte count the main thread publishes; the main thread never waits for the hash. Regions the main
//             thread leaves out (large files' bodies) are copied into the file here, in order, while it goes on.
//  - inflate: read a layer blob, gunzip it straight into the ring's slots (zlib's synchronous binding writes into
//             a caller's buffer; the stream API would allocate every output chunk), hash it, and let the main
//             thread consume the slots (worker produces). While the main thread holds the slots, write the small
//             files it queued on the file ring (layer-tar/file-writer.ts); let go of that ring when the blob ends.
import { createHash, type Hash } from 'node:crypto';
import * as fs from 'node:fs';
import { parentPort as port, workerData } from 'node:worker_threads';
import * as zlib from 'node:zlib';
import {
  Ctrl,
  type HashJob,
  type HashReply,
  type HashWorkerData,
  REGIONS,
  SLOT,
  SLOTS,
  State,
} from './hash-protocol.js';
import { fileServer } from './layer-tar/file-server.js';

const parentPort = port!;
const d = workerData as HashWorkerData;
const files = fileServer(d);
const ctrl = new Int32Array(d.ctrlBuf);
const lens = new Int32Array(d.lensBuf);
const written = new BigInt64Array(d.writtenBuf);
const regions = new BigInt64Array(d.regionsBuf);
const regionFds = new Int32Array(d.regionFdsBuf);
const data = Buffer.from(d.dataBuf);
const scratch = Buffer.allocUnsafe(SLOT);
const ABORTED = new Error('aborted');
/**
 * Test hook: TSBUILD_TEST_HASH_WORKER_EXIT=<job kind> makes this thread exit when it gets such a job, as a thread
 * that dies without replying would (out of memory, terminated); test/store/hash-writer-exit.test.ts uses it.
 */
const exitOn = process.env.TSBUILD_TEST_HASH_WORKER_EXIT;

const reply = (r: HashReply): void => parentPort.postMessage(r);
const bump = (i: number): void => {
  Atomics.add(ctrl, i, 1);
  Atomics.notify(ctrl, i);
};
const digestOf = (hash: Hash): string => 'sha256:' + hash.digest('hex');

parentPort.on('message', (m: HashJob) => {
  if (exitOn === m.kind) process.exit(70);
  try {
    if (m.kind === 'inflate') {
      try {
        inflate(m);
        return;
      } finally {
        files.detach();
      }
    }
    if (m.kind === 'follow') follow(m);
    else write(m);
  } catch (e) {
    const aborted = e === ABORTED || Atomics.load(ctrl, Ctrl.STATE) === State.ABORT;
    Atomics.store(ctrl, Ctrl.STATE, State.FAILED);
    bump(Ctrl.PSEQ);
    bump(Ctrl.CSEQ);
    reply(aborted ? { aborted: true } : { error: e instanceof Error ? e.message : String(e) });
  }
});

function write(m: HashJob): void {
  const fd = fs.openSync(m.path, 'w', 0o644);
  try {
    const hash = createHash('sha256');
    let size = 0;
    for (;;) {
      const seq = Atomics.load(ctrl, Ctrl.PSEQ);
      const tail = Atomics.load(ctrl, Ctrl.TAIL);
      const state = Atomics.load(ctrl, Ctrl.STATE);
      if (state === State.ABORT) throw ABORTED;
      if (tail < Atomics.load(ctrl, Ctrl.HEAD)) {
        const slot = tail % SLOTS;
        const view = data.subarray(slot * SLOT, slot * SLOT + lens[slot]!);
        hash.update(view);
        let off = 0;
        while (off < view.length) off += fs.writeSync(fd, view, off, view.length - off);
        size += view.length;
        Atomics.store(ctrl, Ctrl.TAIL, tail + 1);
        bump(Ctrl.CSEQ);
        continue;
      }
      if (state === State.END) {
        if (m.path !== '/dev/null') fs.fsyncSync(fd);
        reply({ digest: digestOf(hash), size });
        return;
      }
      Atomics.wait(ctrl, Ctrl.PSEQ, seq);
    }
  } finally {
    fs.closeSync(fd);
  }
}

function follow(m: HashJob): void {
  const fd = fs.openSync(m.path, 'r+');
  let r = 0; // next region
  try {
    const hash = createHash('sha256');
    let pos = 0;
    for (;;) {
      const seq = Atomics.load(ctrl, Ctrl.PSEQ);
      // state, then the count, then the regions: once the end is seen the count is final, and a region is posted
      // before the count passes it
      const state = Atomics.load(ctrl, Ctrl.STATE);
      if (state === State.ABORT) throw ABORTED;
      const end = Number(Atomics.load(written, 0));
      const posted = Atomics.load(ctrl, Ctrl.POSTED);
      const q = r % REGIONS;
      if (r < posted && Number(regions[3 * q]) === pos) {
        pos += copyRegion(fd, regionFds[q]!, pos, Number(regions[3 * q + 1]), Number(regions[3 * q + 2]), hash);
        r++;
        Atomics.store(ctrl, Ctrl.COPIED, r);
        bump(Ctrl.CSEQ);
        continue;
      }
      const limit = r < posted ? Math.min(end, Number(regions[3 * q])) : end;
      if (pos < limit) {
        const n = fs.readSync(fd, scratch, 0, Math.min(SLOT, limit - pos), pos);
        if (n === 0) throw new Error(m.path + ' is shorter than what was written to it');
        hash.update(scratch.subarray(0, n));
        pos += n;
        continue;
      }
      if (state === State.END && r === posted) {
        reply({ digest: digestOf(hash), size: pos });
        return;
      }
      Atomics.wait(ctrl, Ctrl.PSEQ, seq);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Copies `size` bytes of the open file `src` from `from` into the blob at `at` (zero-padded if it shrank), hashing
 * them. src stays open: the main thread opened it and closes it once the region is counted as copied.
 */
function copyRegion(fd: number, src: number, at: number, size: number, from: number, hash: Hash): number {
  let done = 0;
  while (done < size) {
    if (Atomics.load(ctrl, Ctrl.STATE) === State.ABORT) throw ABORTED;
    const want = Math.min(SLOT, size - done);
    let n = 0;
    while (n < want) {
      const got = fs.readSync(src, scratch, n, want - n, from + done + n);
      if (got === 0) break;
      n += got;
    }
    if (n < want) scratch.fill(0, n, want);
    hash.update(scratch.subarray(0, want));
    let off = 0;
    while (off < want) off += fs.writeSync(fd, scratch, off, want - off, at + done + off);
    done += want;
  }
  return size;
}

/** The internals of a zlib stream that its synchronous binding needs (Node's own processChunkSync uses them). */
interface ZlibInternals {
  _handle?: {
    writeSync(
      flush: number,
      input: Buffer,
      inOff: number,
      inLen: number,
      out: Buffer,
      outOff: number,
      outLen: number,
    ): void;
  };
  /** [avail_out, avail_in] after each writeSync. */
  _writeState?: Uint32Array;
}

const isZstd = (b: Buffer, n: number): boolean =>
  n >= 4 && b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd;
const isGzip = (b: Buffer, n: number): boolean => n >= 2 && b[0] === 0x1f && b[1] === 0x8b;

function inflate(m: HashJob): void {
  const hash = createHash('sha256');
  let size = 0;
  // a free slot to fill: one slot stays with the reader as look-behind
  const acquire = (): number => {
    for (;;) {
      const seq = Atomics.load(ctrl, Ctrl.CSEQ);
      if (Atomics.load(ctrl, Ctrl.STATE) === State.ABORT) throw ABORTED;
      const head = Atomics.load(ctrl, Ctrl.HEAD);
      if (head - Atomics.load(ctrl, Ctrl.TAIL) < SLOTS - 1) return head;
      // the main thread bumps the same sequence when it queues a file
      if (files.step()) continue;
      Atomics.wait(ctrl, Ctrl.CSEQ, seq, 1000);
    }
  };
  // hashed after it is published: the reader uses the slot while this thread hashes it (both only read it; the
  // slot is refilled by this thread alone, after the hash)
  const publish = (head: number, n: number): void => {
    const slot = head % SLOTS;
    size += n;
    lens[slot] = n;
    Atomics.store(ctrl, Ctrl.HEAD, head + 1);
    bump(Ctrl.PSEQ);
    hash.update(data.subarray(slot * SLOT, slot * SLOT + n));
  };
  const fd = fs.openSync(m.path, 'r');
  let z: zlib.Gunzip | undefined;
  try {
    const n = fs.readSync(fd, scratch, 0, 4, 0);
    if (isZstd(scratch, n))
      throw new Error('a zstd layer is unpacked on the main thread (LayerDirs.unpackBlobFile), not here');
    let pos = 0;
    if (!isGzip(scratch, n)) {
      // plain tar: read straight into the slots
      for (;;) {
        const head = acquire();
        const got = fs.readSync(fd, data, (head % SLOTS) * SLOT, SLOT, pos);
        if (got === 0) break;
        pos += got;
        publish(head, got);
      }
    } else {
      z = zlib.createGunzip();
      z.on('error', () => undefined); // reported through z.errored below
      const { _handle: handle, _writeState: st } = z as unknown as ZlibInternals;
      if (!handle || typeof handle.writeSync !== 'function' || !(st instanceof Uint32Array))
        throw new Error('this Node.js has no synchronous zlib binding');
      let head = acquire();
      let outOff = 0;
      let eof = false;
      while (!eof) {
        const got = fs.readSync(fd, scratch, 0, SLOT, pos);
        pos += got;
        eof = got === 0;
        let inOff = 0;
        let inLen = got;
        // as zlib's own processChunkSync: call again while the output fills up; then this input is done
        for (;;) {
          const room = SLOT - outOff;
          const flush = eof ? zlib.constants.Z_FINISH : zlib.constants.Z_NO_FLUSH;
          handle.writeSync(flush, scratch, inOff, inLen, data, (head % SLOTS) * SLOT + outOff, room);
          if (z.errored) throw z.errored;
          const availOut = st[0]!;
          const availIn = st[1]!;
          outOff += room - availOut;
          inOff += inLen - availIn;
          inLen = availIn;
          if (outOff === SLOT) {
            publish(head, outOff);
            head = acquire();
            outOff = 0;
          }
          if (availOut !== 0) break;
        }
      }
      if (outOff > 0) publish(head, outOff);
    }
  } finally {
    z?.close();
    fs.closeSync(fd);
  }
  Atomics.store(ctrl, Ctrl.STATE, State.END);
  bump(Ctrl.PSEQ);
  reply({ digest: digestOf(hash), size });
}
