// What HashWriter (hash-writer.ts, the main thread) and its worker (hash-worker.ts) share: the shared-memory
// layout, the names of its slots and states, and the messages. Both sides import it, so a renumbering cannot leave
// one side behind.
import type { FileServerData } from './layer-tar/file-protocol.js';

/** Ring slots, and the bytes of each. */
export const SLOTS = 4;
export const SLOT = 1 << 18;
/** follow: large-file regions the worker may have queued at once. */
export const REGIONS = 16;

/** The Int32 slots of `ctrl`. */
export const Ctrl = {
  /** Ring slots produced (by the main thread for write, by the worker for inflate). */
  HEAD: 0,
  /** Ring slots consumed. */
  TAIL: 1,
  /** One of State. */
  STATE: 2,
  /** Producer sequence: bumped on every push, end and abort (and follow's progress); the worker waits on it. */
  PSEQ: 3,
  /** Consumer sequence: bumped on every consume (and file queued, for inflate); the producer waits on it. */
  CSEQ: 4,
  /** follow: regions posted by the main thread. */
  POSTED: 5,
  /** follow: regions the worker has copied. */
  COPIED: 6,
} as const;
export const CTRL_SLOTS = 8;

/** The values of ctrl[STATE]. */
export const State = {
  RUN: 0,
  /** The producer is done: consume what is left, then reply. */
  END: 1,
  /** The worker failed; its reply says why. */
  FAILED: 2,
  /** The main thread gave up: stop now. */
  ABORT: 3,
} as const;

/** What the worker gets once, at start. */
export interface HashWorkerData extends FileServerData {
  ctrlBuf: SharedArrayBuffer;
  lensBuf: SharedArrayBuffer;
  dataBuf: SharedArrayBuffer;
  /** BigInt64 [0]: follow: the main thread's position in the file (all before it is written but the regions). */
  writtenBuf: SharedArrayBuffer;
  /**
   * BigInt64 triples (offset in the blob, size, offset in the source), REGIONS of them: follow's queue of large-file
   * bodies to copy.
   */
  regionsBuf: SharedArrayBuffer;
  /** Int32: the open source file of each region. */
  regionFdsBuf: SharedArrayBuffer;
}

/**
 * One job at a time:
 *  - write:   consume the ring (the main thread produces), hash and write to a file (or /dev/null).
 *  - follow:  hash a file the main thread is writing, reading it back behind the writer, and copy the regions it
 *             posts into their place.
 *  - inflate: gunzip (or read) a layer blob into the ring (the worker produces), hash it, and serve the file ring
 *             meanwhile.
 */
export interface HashJob {
  kind: 'write' | 'follow' | 'inflate';
  path: string;
}

/** The worker's one message per job. */
export interface HashReply {
  digest?: string;
  size?: number;
  error?: string;
  aborted?: boolean;
}
