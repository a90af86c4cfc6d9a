// What the file ring's two sides share (file-writer.ts on the main thread, file-server.ts on the serving thread):
// the ring's size, the record layout, and the names of the ctrl slots and states.

/** Ring size (a power of two). */
export const RING = 1 << 20;

/**
 * Byte offsets in a record (8-byte aligned; a record length of 0 means "the rest of the ring is unused, go on at
 * its start"). All u32 little-endian but MTIME and ATIME (f64, seconds); the absolute path (utf8), then the body,
 * follow.
 */
export const Rec = {
  LEN: 0,
  FLAGS: 4,
  MODE: 8,
  UID: 12,
  GID: 16,
  PATH_LEN: 20,
  BODY_SIZE: 24,
  MTIME: 32,
  ATIME: 40,
  /** The header's size: the path starts here. */
  PATH: 48,
} as const;

/** Record flags. */
export const FLAG_CHOWN = 1;
export const FLAG_CHMOD = 2;

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
  SLEEPING: 8, // 1 while a dedicated worker waits on PSEQ: only then does the main thread notify (a syscall)
  RUN: 0,
  END: 1, // write what is queued, then stop
  ABORT: 2, // stop now
  IDLE: 0,
  RUNNING: 1,
  STOPPED: 2, // ended, aborted, or let go by HashWriter's worker (the main thread writes the rest)
  FAILED: 3,
} as const;
export const FILE_CTRL_SLOTS = 9;

/** The serving thread's view of a file ring (in its workerData). A failure's message goes to `fileErrBuf`. */
export interface FileServerData {
  fileCtrlBuf: SharedArrayBuffer;
  fileRingBuf: SharedArrayBuffer;
  fileErrBuf: SharedArrayBuffer;
}
