// The one way the CLI ends its process. Node writes to a pipe asynchronously: what a full pipe has not taken yet waits
// in the stream's buffer, and process.exit() drops it (`tsbuild parse --json BIG | slow-consumer` lost all but the
// first 64 KiB). Every exit path — normal return, error, usage error, signal — comes here and waits for stdout and
// stderr to hand their last byte to the kernel first.

type Drainable = NodeJS.WriteStream | NodeJS.WritableStream;

/** Resolves once everything written to `stream` so far has been flushed (or the stream cannot take more). */
export function drained(stream: Drainable): Promise<void> {
  const s = stream as NodeJS.WritableStream & { destroyed?: boolean; writableEnded?: boolean };
  if (s.destroyed === true || s.writableEnded === true) return Promise.resolve();
  return new Promise((resolve) => {
    // An empty write's callback runs after every earlier write has been flushed, in order; an error (EPIPE: the
    // reader went away) also ends the wait, since nothing more can be delivered.
    const done = (): void => {
      s.off('error', done);
      resolve();
    };
    s.once('error', done);
    try {
      s.write('', done);
    } catch {
      done();
    }
  });
}

let exiting: Promise<never> | undefined;

/** Whether an exit is waiting for the streams to drain. */
export function isExiting(): boolean {
  return exiting !== undefined;
}

/** Flushes stdout and stderr, then exits with `code`. The first call decides the code; later calls wait with it. */
export function exitAfterFlush(code: number): Promise<never> {
  exiting ??= Promise.all([drained(process.stdout), drained(process.stderr)]).then(() => process.exit(code));
  return exiting;
}

/** The user insists (a second Ctrl-C while an exit waits for a reader that does not read): exit without waiting. */
export function exitNow(code: number): never {
  return process.exit(code);
}
