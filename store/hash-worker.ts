// The source of HashWriter's worker thread (see hash-writer.ts), evaluated as a string so that it runs whether the
// host is CommonJS, ESM or vitest's TypeScript. Three jobs, one at a time, all without per-chunk allocation (the
// worker's small heap would otherwise hold tens of MB of dead 1 MiB buffers between collections):
//  - write:   consume the shared-memory ring (main thread produces), hash and write to a file (or /dev/null).
//  - follow:  hash a file the main thread is writing, reading it back behind the writer (page cache) up to the
//             byte count the main thread publishes; the main thread never waits for the hash. Regions the main
//             thread leaves out (large files' bodies) are copied into the file here, in order, while it goes on.
//  - inflate: read a layer blob, gunzip it straight into the ring's slots (zlib's synchronous binding writes into
//             a caller's buffer; the stream API would allocate every output chunk), hash it, and let the main
//             thread consume the slots (worker produces). While the main thread holds the slots, write the small
//             files it queued on the file ring (layer-tar/file-writer.ts); let go of that ring when the blob ends.
// ctrl (Int32): 0 head (slots produced), 1 tail (slots consumed), 2 state (0 run, 1 end, 2 worker error, 3 abort),
//               3 producer sequence (bumped on every push/end/abort), 4 consumer sequence (bumped on every consume),
//               5 regions posted, 6 regions copied (follow)
// written (BigInt64): 0 the main thread's position in the file (follow: all before it is written but the regions)
// regions (BigInt64): REGIONS pairs of (offset, size); regionFds (Int32): the open source file of each
import { FILE_SERVER_SOURCE } from './layer-tar/file-worker.js';

export const WORKER_SOURCE = `
const { parentPort, workerData } = process.getBuiltinModule('node:worker_threads');
const fs = process.getBuiltinModule('node:fs');
const zlib = process.getBuiltinModule('node:zlib');
const { createHash } = process.getBuiltinModule('node:crypto');
${FILE_SERVER_SOURCE}
const { ctrlBuf, lensBuf, dataBuf, writtenBuf, regionsBuf, regionFdsBuf, SLOTS, SLOT, REGIONS, fileCtrlBuf, fileRingBuf, fileErrBuf, FILE_RING, FILE_C } = workerData;
const files = fileServer(fileCtrlBuf, fileRingBuf, fileErrBuf, FILE_RING, FILE_C);
const ctrl = new Int32Array(ctrlBuf);
const lens = new Int32Array(lensBuf);
const written = new BigInt64Array(writtenBuf);
const regions = new BigInt64Array(regionsBuf);
const regionFds = new Int32Array(regionFdsBuf);
const data = Buffer.from(dataBuf);
const scratch = Buffer.allocUnsafe(SLOT);
const ABORTED = new Error('aborted');

parentPort.on('message', (m) => {
  try {
    if (m.kind === 'inflate') {
      try {
        return inflate(m);
      } finally {
        files.detach();
      }
    }
    if (m.kind === 'follow') return follow(m);
    return write(m);
  } catch (e) {
    const aborted = e === ABORTED || Atomics.load(ctrl, 2) === 3;
    Atomics.store(ctrl, 2, 2);
    Atomics.add(ctrl, 3, 1);
    Atomics.notify(ctrl, 3);
    Atomics.add(ctrl, 4, 1);
    Atomics.notify(ctrl, 4);
    parentPort.postMessage(aborted ? { aborted: true } : { error: String((e && e.message) || e) });
  }
});

function write(m) {
  const fd = fs.openSync(m.path, 'w', 0o644);
  try {
    const hash = createHash('sha256');
    let size = 0;
    for (;;) {
      const seq = Atomics.load(ctrl, 3);
      const tail = Atomics.load(ctrl, 1);
      const state = Atomics.load(ctrl, 2);
      if (state === 3) throw ABORTED;
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
        parentPort.postMessage({ digest: 'sha256:' + hash.digest('hex'), size });
        return;
      }
      Atomics.wait(ctrl, 3, seq);
    }
  } finally {
    fs.closeSync(fd);
  }
}

function follow(m) {
  const fd = fs.openSync(m.path, 'r+');
  let r = 0; // next region
  try {
    const hash = createHash('sha256');
    let pos = 0;
    for (;;) {
      const seq = Atomics.load(ctrl, 3);
      // state, then the count, then the regions: once the end is seen the count is final, and a region is posted
      // before the count passes it
      const state = Atomics.load(ctrl, 2);
      if (state === 3) throw ABORTED;
      const end = Number(Atomics.load(written, 0));
      const posted = Atomics.load(ctrl, 5);
      const q = r % REGIONS;
      if (r < posted && Number(regions[2 * q]) === pos) {
        pos += copyRegion(fd, regionFds[q], pos, Number(regions[2 * q + 1]), hash);
        r++;
        Atomics.store(ctrl, 6, r);
        Atomics.add(ctrl, 4, 1);
        Atomics.notify(ctrl, 4);
        continue;
      }
      const limit = r < posted ? Math.min(end, Number(regions[2 * q])) : end;
      if (pos < limit) {
        const n = fs.readSync(fd, scratch, 0, Math.min(SLOT, limit - pos), pos);
        if (n === 0) throw new Error(m.path + ' is shorter than what was written to it');
        hash.update(scratch.subarray(0, n));
        pos += n;
        continue;
      }
      if (state === 1 && r === posted) {
        parentPort.postMessage({ digest: 'sha256:' + hash.digest('hex'), size: pos });
        return;
      }
      Atomics.wait(ctrl, 3, seq);
    }
  } finally {
    fs.closeSync(fd);
  }
}

// Copies \`size\` bytes of the open file \`src\` into the blob at \`at\` (zero-padded if it shrank), hashing them.
// src stays open: the main thread opened it and closes it once the region is counted as copied.
function copyRegion(fd, src, at, size, hash) {
  {
    let done = 0;
    while (done < size) {
      if (Atomics.load(ctrl, 2) === 3) throw ABORTED;
      const want = Math.min(SLOT, size - done);
      let n = 0;
      while (n < want) {
        const got = fs.readSync(src, scratch, n, want - n, done + n);
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
}

function inflate(m) {
  const hash = createHash('sha256');
  let size = 0;
  // a free slot to fill: one slot stays with the reader as look-behind
  const acquire = () => {
    for (;;) {
      const seq = Atomics.load(ctrl, 4);
      if (Atomics.load(ctrl, 2) === 3) throw ABORTED;
      const head = Atomics.load(ctrl, 0);
      if (head - Atomics.load(ctrl, 1) < SLOTS - 1) return head;
      // the main thread bumps the same sequence when it queues a file
      if (files.step()) continue;
      Atomics.wait(ctrl, 4, seq, 1000);
    }
  };
  // hashed after it is published: the reader uses the slot while this thread hashes it (both only read it; the
  // slot is refilled by this thread alone, after the hash)
  const publish = (head, n) => {
    const slot = head % SLOTS;
    size += n;
    lens[slot] = n;
    Atomics.store(ctrl, 0, head + 1);
    Atomics.add(ctrl, 3, 1);
    Atomics.notify(ctrl, 3);
    hash.update(data.subarray(slot * SLOT, slot * SLOT + n));
  };
  const fd = fs.openSync(m.path, 'r');
  let z;
  try {
    const n = fs.readSync(fd, scratch, 0, 4, 0);
    const magic = scratch;
    if (n >= 4 && magic[0] === 0x28 && magic[1] === 0xb5 && magic[2] === 0x2f && magic[3] === 0xfd) throw new Error('zstd-compressed layers are not supported (Node 20 has no zstd decoder)');
    let pos = 0;
    if (!(n >= 2 && magic[0] === 0x1f && magic[1] === 0x8b)) {
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
      const handle = z._handle;
      const st = z._writeState;
      if (!handle || typeof handle.writeSync !== 'function' || !(st instanceof Uint32Array)) throw new Error('this Node.js has no synchronous zlib binding');
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
          handle.writeSync(eof ? zlib.constants.Z_FINISH : zlib.constants.Z_NO_FLUSH, scratch, inOff, inLen, data, (head % SLOTS) * SLOT + outOff, room);
          if (z.errored) throw z.errored;
          const availOut = st[0];
          const availIn = st[1];
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
  Atomics.store(ctrl, 2, 1);
  Atomics.add(ctrl, 3, 1);
  Atomics.notify(ctrl, 3);
  parentPort.postMessage({ digest: 'sha256:' + hash.digest('hex'), size });
}
`;
