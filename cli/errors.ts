// The one place that turns errors into what a user reads. Code below the CLI never prints.
import { statfsSync } from 'node:fs';
import { TsbuildError, UsageError } from '../oci/index.js';
import type { BuildEvent } from '../builder/index.js';

/** Errors that carry their own user-facing rendering (file:line:col with a caret, registry hints, …). */
interface Renderable {
  render(): string;
}

function isRenderable(e: unknown): e is Renderable {
  return typeof e === 'object' && e !== null && typeof (e as Renderable).render === 'function';
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/** The user interrupted (Ctrl-C, SIGTERM): exit 128 + the signal's number, as a shell reports it. */
export class InterruptedError extends TsbuildError {
  override name = 'InterruptedError';
  constructor(readonly signal: NodeJS.Signals) {
    super('INTERRUPTED', `interrupted (${signal})`);
  }
  static codeFor(signal: NodeJS.Signals): number {
    return 128 + (SIGNAL_NUMBERS[signal] ?? 2);
  }
  get exitCode(): number {
    return InterruptedError.codeFor(this.signal);
  }
}

/**
 * The most an error prints. Renderers bound what they quote; this catches the rest (a message that embeds a
 * command line or a file of megabytes), so that a failure never floods the terminal or a CI log.
 */
export const MAX_ERROR_CHARS = 16 * 1024;

function bounded(text: string): string {
  if (text.length <= MAX_ERROR_CHARS) return text;
  const cut = text.lastIndexOf('\n', MAX_ERROR_CHARS);
  const kept = text.slice(0, cut > MAX_ERROR_CHARS / 2 ? cut : MAX_ERROR_CHARS);
  return `${kept}… (${text.length - kept.length} more characters of this error not shown)`;
}

/** What the CLI knows about where the command wrote. */
export interface ErrorContext {
  /** The store root (--root). */
  storeRoot?: string;
}

const NO_SPACE = /ENOSPC|no space left on device/i;

/** The path of a full-disk error in `err` or its causes ('' when it names none), or undefined when there is none. */
function noSpacePath(err: unknown): string | undefined {
  let e: unknown = err;
  let found = false;
  for (let depth = 0; e instanceof Error && depth < 8; depth++) {
    const x = e as Error & { code?: string; path?: string; dest?: string };
    if (x.code === 'ENOSPC' || NO_SPACE.test(x.message)) {
      found = true;
      if (x.path || x.dest) return x.dest ?? x.path;
    }
    e = x.cause;
  }
  return found ? '' : undefined;
}

function formatMiB(bytes: number): string {
  return bytes < 1 << 20 ? `${Math.round(bytes / 1024)} KiB` : `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}

/** Free bytes and size of the filesystem holding `path`, or undefined when it cannot be read. */
function spaceOf(path: string): { free: number; size: number } | undefined {
  try {
    const s = statfsSync(path);
    return { free: s.bavail * s.bsize, size: s.blocks * s.bsize };
  } catch {
    return undefined;
  }
}

/**
 * Lines that explain a full disk: a write failed with ENOSPC (the path it names, else the store), or a step failed
 * while the store's filesystem is full (a RUN whose writes fail reports an I/O error of its own).
 */
function fullDiskLines(err: unknown, ctx: ErrorContext): string[] {
  // an error that already says what to do about it (a RUN that filled the disk) is left as it is
  if ((err as { info?: { hint?: string } })?.info?.hint) return [];
  const path = noSpacePath(err);
  const root = ctx.storeRoot;
  const hint = (where: string): string =>
    `hint: free space on the filesystem of ${where} (df -h ${where}), or delete unreferenced blobs, layers and build cache with \`tsbuild prune\``;
  if (path !== undefined) {
    const where = path || root;
    const space = where ? spaceOf(where) : undefined;
    return [
      `  no space left on device writing ${path || `in the store ${root ?? ''}`.trim()}${space ? ` (${formatMiB(space.free)} free)` : ''}`,
      ...(where ? [hint(where)] : []),
    ];
  }
  if (!root || (err as { name?: string })?.name !== 'BuildError') return [];
  const space = spaceOf(root);
  // "full": under 1 MiB or 0.5 % free — the state a failed write leaves, not a disk that merely fills up slowly
  if (!space || (space.free >= 1 << 20 && space.free >= space.size / 200)) return [];
  return [
    `  no space left on device, probably: the filesystem of the store ${root} has ${formatMiB(space.free)} free`,
    hint(root),
  ];
}

export function formatError(err: unknown, debug: boolean, ctx: ErrorContext = {}): string {
  const body = isRenderable(err) ? err.render() : err instanceof Error ? err.message : String(err);
  // an error that renders itself places its own hint; any other gets it on a line of its own
  const hint = !isRenderable(err) && err instanceof TsbuildError && err.hint ? [`hint: ${err.hint}`] : [];
  const text = [bounded(`error: ${body}`), ...hint, ...fullDiskLines(err, ctx)].join('\n');
  if (!debug || !(err instanceof Error)) return text;
  // --debug: the stack, and the stacks of the causes (a registry error wrapping a socket error, …).
  const parts = [text];
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < 5; depth++) {
    if (depth > 0) parts.push(bounded(`caused by: ${e.message}`));
    if (e.stack) parts.push(bounded(e.stack));
    e = (e as { cause?: unknown }).cause;
  }
  return parts.join('\n');
}

/**
 * By class: 2 for usage errors (bad flags or arguments, from the CLI or a part below it), 128 + n for an
 * interruption by signal n, 1 for everything else (a failed build, a failed pull, …). Note that a BuildError's
 * `exitCode` is the failing RUN's status, not ours.
 */
export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return 2;
  if (err instanceof InterruptedError) return err.exitCode;
  // commander's own parse errors (unknown option, missing argument), which it marks by code
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('commander.')) return 2;
  return 1;
}

/**
 * The error as the last event of a `--progress=json` stream (so the stream stays JSON from the first line to the
 * last): the text `formatError` prints without its `error: ` prefix, the error's code and hint, and the exit code.
 */
export function errorEvent(err: unknown, exitCode: number): Extract<BuildEvent, { type: 'error' }> {
  const code = err instanceof TsbuildError ? err.code : undefined;
  const hint = err instanceof TsbuildError ? err.hint : undefined;
  return {
    type: 'error',
    time: Date.now(),
    message: (isRenderable(err) ? err.render() : err instanceof Error ? err.message : String(err)).slice(
      0,
      MAX_ERROR_CHARS,
    ),
    ...(code !== undefined ? { code } : {}),
    ...(hint !== undefined ? { hint } : {}),
    exitCode,
  };
}
