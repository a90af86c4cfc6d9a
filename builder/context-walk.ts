// The context's stat walk: every entry under a directory, sorted, parents before children (BuildKit's order), one
// lstat each. It runs on the calling thread and, once a walk is long enough to pay for a thread, hands the rest of
// itself to a worker (context-walk-worker.ts) whose lstat calls then overlap the caller's work on what it yields:
// on a million-file no-op rebuild the walk is half of one core's time. The walk's state is a stack of directory
// frames, so the worker continues exactly where the caller stopped.
import { lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { MessageChannel, type MessagePort, receiveMessageOnPort, type Worker } from 'node:worker_threads';
import type { Ignore } from '@balena/dockerignore';

export type EntryType = 'file' | 'dir' | 'symlink' | 'other';

/** The few lstat fields a build uses, copied out (an fs.Stats holds twice as many, and four Dates once read). */
export interface EntryStat {
  mode: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  atimeMs: number;
  ino: number;
  dev: number;
  uid: number;
  gid: number;
  nlink: number;
}

export interface ContextEntry {
  /** Path relative to the context root, `/`-separated, no leading slash ('' for the root). */
  rel: string;
  type: EntryType;
  stat: EntryStat;
  linkTarget?: string;
}

type IgnoreFactory = () => Ignore;

/** @balena/dockerignore, loaded only when there are patterns (CommonJS with `exports.default`). */
export async function loadDockerignore(): Promise<IgnoreFactory> {
  const m = (await import('@balena/dockerignore')) as unknown as {
    default: IgnoreFactory | { default: IgnoreFactory };
  };
  const d = m.default;
  return typeof d === 'function' ? d : d.default;
}

/**
 * Which directories a walk does not enter: the ignored ones, unless an exception pattern (`!…`) may re-include
 * something below them. The same rule on both threads: the worker builds it from the same patterns.
 */
export function pruneRule(ignorer: Ignore | null, hasExceptions: boolean): (rel: string) => boolean {
  if (ignorer === null || hasExceptions) return () => false;
  return (rel) => rel !== '' && ignorer.ignores(rel);
}

export function toEntry(rel: string, st: Stats, linkTarget: string | undefined): ContextEntry {
  const type: EntryType = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
  const stat: EntryStat = {
    mode: st.mode,
    size: st.size,
    mtimeMs: st.mtimeMs,
    ctimeMs: st.ctimeMs,
    atimeMs: st.atimeMs,
    ino: st.ino,
    dev: st.dev,
    uid: st.uid,
    gid: st.gid,
    nlink: st.nlink,
  };
  return linkTarget !== undefined ? { rel, type, stat, linkTarget } : { rel, type, stat };
}

/** A directory being walked: its names (read on the first visit, sorted) and the next one to look at. */
export interface Frame {
  rel: string;
  abs: string;
  names: string[] | undefined;
  i: number;
}

/**
 * The walk below one directory as a stack of frames; `next()` gives the next entry (depth first, names sorted by
 * UTF-16 code units as JavaScript sorts) and enters a directory unless `prune` says not to. A directory is read
 * when the walk first comes back for its children, as a recursive walk would: an unreadable one fails there.
 */
export class TreeWalk {
  constructor(
    readonly frames: Frame[],
    private readonly prune: (rel: string) => boolean,
  ) {}

  /** The walk of what is below `rel` (the directory at `abs`), not `rel` itself. */
  static below(rel: string, abs: string, prune: (rel: string) => boolean): TreeWalk {
    return new TreeWalk([{ rel, abs, names: undefined, i: 0 }], prune);
  }

  next(): ContextEntry | undefined {
    const frames = this.frames;
    while (frames.length > 0) {
      const f = frames[frames.length - 1]!;
      const names = (f.names ??= readdirSync(f.abs).sort());
      if (f.i >= names.length) {
        frames.pop();
        continue;
      }
      const n = names[f.i++]!;
      // a name from readdir has no slash and is never . or ..: joined without path.join's normalising
      const rel = f.rel ? `${f.rel}/${n}` : n;
      const abs = `${f.abs}/${n}`;
      const st = lstatSync(abs);
      const e = toEntry(rel, st, st.isSymbolicLink() ? readlinkSync(abs) : undefined);
      if (e.type === 'dir' && !this.prune(rel)) frames.push({ rel, abs, names: undefined, i: 0 });
      return e;
    }
    return undefined;
  }
}

// ---- the worker's half: shared memory, batches, and the hand-over ----

/** Slots of the shared Int32Array both threads use. */
export const enum WalkCtrl {
  /** The worker is up and waits for the frames (0/1). */
  READY = 0,
  /** Batches posted by the worker. */
  POSTED = 1,
  /** Batches taken by the caller. */
  TAKEN = 2,
  /** The caller has stopped reading: the worker ends (0/1). */
  CANCEL = 3,
}
export const WALK_CTRL_SLOTS = 4;
/** Batches the worker may be ahead of the caller: bounds the memory of a walk of any size. */
export const WALK_AHEAD = 8;
/** Entries in a batch. */
export const WALK_BATCH = 512;
/** Numbers per entry in a batch's `nums`, in EntryStat's order. */
export const NUMS = 10;

export interface WalkWorkerData {
  ctrl: SharedArrayBuffer;
  patterns: string[];
  hasExceptions: boolean;
}

/**
 * What the worker posts: entries (their stat numbers, and per entry its type, path and link target as text), the
 * end, or the error the walk met (thrown by the caller at the same place in the walk).
 */
export type WalkMessage =
  | { kind: 'batch'; n: number; nums: Float64Array; types: Uint8Array; text: string[] }
  | { kind: 'end' }
  | { kind: 'error'; message: string; code?: string; errno?: number; syscall?: string; path?: string };

export const TYPES: readonly EntryType[] = ['file', 'dir', 'symlink', 'other'];

const YOUNG_MB = 4;

/**
 * When a walk starts its worker: after `after` entries (a short walk never pays for a thread), and whether it then
 * waits for it to be ready (tests: the rest of the walk is then surely the worker's) or walks on meanwhile. `start`
 * is store/worker-file.ts's (passed in: the worker's own bundle imports this module and no more).
 */
export interface WalkWorkerUse {
  after: number;
  wait?: boolean;
  start: (
    name: string,
    from: string,
    data: unknown,
    opts: { transferList: [MessagePort]; resourceLimits: { maxYoungGenerationSizeMb: number } },
  ) => Worker;
}

/**
 * Every entry below `rel` in walk order. After `worker.after` entries the worker is started; the walk goes on here
 * until it reports ready, then the worker gets the frames and the rest comes from it, a batch at a time. A walk
 * that ends first just terminates the worker it started.
 */
export function* walkBelow(
  rel: string,
  abs: string,
  ignore: { ignorer: Ignore | null; patterns: string[]; hasExceptions: boolean },
  worker: WalkWorkerUse | false,
): Generator<ContextEntry, void, undefined> {
  const walk = TreeWalk.below(rel, abs, pruneRule(ignore.ignorer, ignore.hasExceptions));
  let started: Walker | undefined;
  let n = 0;
  try {
    for (;;) {
      if (started && (n & 63) === 0 && Atomics.load(started.ctrl, WalkCtrl.READY) === 1 && walk.frames.length > 0) {
        break;
      }
      const e = walk.next();
      if (e === undefined) return;
      yield e;
      if (worker && ++n >= worker.after && !started) {
        started = startWalker(ignore, worker.start);
        if (worker.wait) {
          const until = Date.now() + 30_000;
          while (Atomics.load(started.ctrl, WalkCtrl.READY) === 0) {
            if (Date.now() > until) throw new Error('the context walk worker did not start in 30 s');
            Atomics.wait(started.ctrl, WalkCtrl.READY, 0, 100);
          }
          n = 0;
        }
      }
    }
    const { ctrl, port } = started!;
    port.postMessage(walk.frames);
    let taken = 0;
    for (;;) {
      const m = receiveMessageOnPort(port)?.message as WalkMessage | undefined;
      if (m === undefined) {
        // posted before counted: a count not yet seen here means a message is on its way or already there
        const posted = Atomics.load(ctrl, WalkCtrl.POSTED);
        if (posted === taken) Atomics.wait(ctrl, WalkCtrl.POSTED, posted);
        continue;
      }
      if (m.kind === 'end') return;
      if (m.kind === 'error') throw Object.assign(new Error(m.message), errnoFields(m));
      taken++;
      Atomics.store(ctrl, WalkCtrl.TAKEN, taken);
      Atomics.notify(ctrl, WalkCtrl.TAKEN);
      yield* decode(m);
    }
  } finally {
    if (started) {
      Atomics.store(started.ctrl, WalkCtrl.CANCEL, 1);
      Atomics.notify(started.ctrl, WalkCtrl.TAKEN);
      started.port.close();
      void started.worker.terminate();
    }
  }
}

interface Walker {
  worker: Worker;
  ctrl: Int32Array;
  port: MessagePort;
}

function startWalker(
  ignore: { patterns: string[]; hasExceptions: boolean },
  startWorker: WalkWorkerUse['start'],
): Walker {
  const sab = new SharedArrayBuffer(WALK_CTRL_SLOTS * 4);
  const { port1, port2 } = new MessageChannel();
  const data = { ctrl: sab, patterns: ignore.patterns, hasExceptions: ignore.hasExceptions, port: port2 };
  // a small young generation (its garbage is a Stats object and a path per entry), the old one not capped (a
  // directory's names stay for its walk)
  const worker = startWorker('context-walk-worker', import.meta.url, data, {
    transferList: [port2],
    resourceLimits: { maxYoungGenerationSizeMb: YOUNG_MB },
  });
  // one that cannot start (its file missing) never says it is ready: the walk goes on here, to the same result
  worker.on('error', () => undefined);
  return { worker, ctrl: new Int32Array(sab), port: port1 };
}

function errnoFields(m: Extract<WalkMessage, { kind: 'error' }>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ['code', 'errno', 'syscall', 'path'] as const) if (m[k] !== undefined) out[k] = m[k];
  return out;
}

function* decode(m: Extract<WalkMessage, { kind: 'batch' }>): Generator<ContextEntry, void, undefined> {
  const { nums, types, text } = m;
  let t = 0;
  for (let i = 0; i < m.n; i++) {
    const o = i * NUMS;
    const type = TYPES[types[i]!]!;
    const stat: EntryStat = {
      mode: nums[o]!,
      size: nums[o + 1]!,
      mtimeMs: nums[o + 2]!,
      ctimeMs: nums[o + 3]!,
      atimeMs: nums[o + 4]!,
      ino: nums[o + 5]!,
      dev: nums[o + 6]!,
      uid: nums[o + 7]!,
      gid: nums[o + 8]!,
      nlink: nums[o + 9]!,
    };
    const rel = text[t++]!;
    yield type === 'symlink' ? { rel, type, stat, linkTarget: text[t++]! } : { rel, type, stat };
  }
}
