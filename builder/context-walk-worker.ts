// The context walk's worker thread (context-walk.ts): it gets the walk's frames from the thread that started it,
// walks on from there and posts the entries in batches, at most WALK_AHEAD ahead of the reader. Every failure is
// posted, never thrown: the reader waits on shared memory and would not see the thread die.
import { workerData, type MessagePort } from 'node:worker_threads';
import {
  type Frame,
  loadDockerignore,
  NUMS,
  pruneRule,
  TreeWalk,
  TYPES,
  WALK_AHEAD,
  WALK_BATCH,
  WalkCtrl,
  type WalkMessage,
  type WalkWorkerData,
} from './context-walk.js';

const d = workerData as WalkWorkerData & { port: MessagePort };
const ctrl = new Int32Array(d.ctrl);
const port = d.port;
const typeCode = new Map(TYPES.map((t, i) => [t, i]));

const post = (m: WalkMessage, transfer: ArrayBuffer[] = []): void => {
  port.postMessage(m, transfer);
  Atomics.add(ctrl, WalkCtrl.POSTED, 1);
  Atomics.notify(ctrl, WalkCtrl.POSTED);
};

function run(frames: Frame[], prune: (rel: string) => boolean): void {
  const walk = new TreeWalk(frames, prune);
  let posted = 0;
  for (;;) {
    const nums = new Float64Array(WALK_BATCH * NUMS);
    const types = new Uint8Array(WALK_BATCH);
    const text: string[] = [];
    let n = 0;
    let done = false;
    let failed: { error: unknown } | undefined;
    while (n < WALK_BATCH) {
      let e;
      try {
        e = walk.next();
      } catch (x) {
        // the entries before it first: the reader fails where a walk on its own thread would
        failed = { error: x };
      }
      if (e === undefined) {
        done = true;
        break;
      }
      const s = e.stat;
      const o = n * NUMS;
      nums[o] = s.mode;
      nums[o + 1] = s.size;
      nums[o + 2] = s.mtimeMs;
      nums[o + 3] = s.ctimeMs;
      nums[o + 4] = s.atimeMs;
      nums[o + 5] = s.ino;
      nums[o + 6] = s.dev;
      nums[o + 7] = s.uid;
      nums[o + 8] = s.gid;
      nums[o + 9] = s.nlink;
      types[n++] = typeCode.get(e.type)!;
      text.push(e.rel);
      if (e.linkTarget !== undefined) text.push(e.linkTarget);
    }
    if (n > 0) {
      // never more than WALK_AHEAD batches the reader has not taken
      for (;;) {
        if (Atomics.load(ctrl, WalkCtrl.CANCEL) === 1) return;
        const taken = Atomics.load(ctrl, WalkCtrl.TAKEN);
        if (posted - taken < WALK_AHEAD) break;
        Atomics.wait(ctrl, WalkCtrl.TAKEN, taken);
      }
      post({ kind: 'batch', n, nums, types, text }, [nums.buffer as ArrayBuffer, types.buffer as ArrayBuffer]);
      posted++;
    }
    if (failed) return fail(failed.error);
    if (done) return post({ kind: 'end' });
  }
}

function fail(e: unknown): void {
  const x = e as NodeJS.ErrnoException;
  const m: WalkMessage = { kind: 'error', message: x instanceof Error ? x.message : String(e) };
  if (typeof x.code === 'string') m.code = x.code;
  if (typeof x.errno === 'number') m.errno = x.errno;
  if (typeof x.syscall === 'string') m.syscall = x.syscall;
  if (typeof x.path === 'string') m.path = x.path;
  post(m);
}

async function main(): Promise<void> {
  const ignorer = d.patterns.length > 0 ? (await loadDockerignore())().add(d.patterns) : null;
  const prune = pruneRule(ignorer, d.hasExceptions);
  port.once('message', (frames: Frame[]) => {
    try {
      run(frames, prune);
    } catch (e) {
      fail(e);
    }
    port.close();
  });
  Atomics.store(ctrl, WalkCtrl.READY, 1);
  Atomics.notify(ctrl, WalkCtrl.READY);
}

main().catch(fail);
