// Progress renderers: one BuildEvent stream shown four ways — a live TTY view (tty.ts), plain prefixed lines
// (plain.ts), one JSON event per line (json.ts), or nothing (quiet). `createRenderer` in select.ts picks one.
import type { BuildEvent } from '../../builder/index.js';

export type ProgressMode = 'auto' | 'tty' | 'plain' | 'json' | 'quiet';

/** What every renderer implements. Feed it every event of a build, then close it once (after build-end or a throw). */
export interface ProgressRenderer {
  onEvent(e: BuildEvent): void;
  /** Stops redrawing and leaves the final state on the stream. Idempotent. */
  close(): void;
  /** The user interrupted the build (Ctrl-C): show the steps that were stopped as cancelled. Optional. */
  interrupted?(signal: string): void;
}

/** The output a renderer writes to: a Writable, with `isTTY`/`columns`/`rows` when it is a terminal. */
export type ProgressStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number };
