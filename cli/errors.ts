// The one place that turns errors into what a user reads. Code below the CLI never prints.
import { UsageError } from './context.js';

/** Errors that carry their own user-facing rendering (file:line:col with a caret, registry hints, …). */
interface Renderable {
  render(): string;
}

function isRenderable(e: unknown): e is Renderable {
  return typeof e === 'object' && e !== null && typeof (e as Renderable).render === 'function';
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/** The user interrupted (Ctrl-C, SIGTERM): exit 128 + the signal's number, as a shell reports it. */
export class InterruptedError extends Error {
  override name = 'InterruptedError';
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted (${signal})`);
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

export function formatError(err: unknown, debug: boolean): string {
  const body = isRenderable(err) ? err.render() : err instanceof Error ? err.message : String(err);
  const text = bounded(`error: ${body}`);
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
 * 2 for usage errors (bad flags or arguments), 1 for everything else (a failed build, a failed pull, …). Note that a
 * BuildError's `exitCode` is the failing RUN's status, not ours: only usage errors map to 2.
 */
export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return 2;
  if (err instanceof InterruptedError) return err.exitCode;
  if (typeof err === 'object' && err !== null) {
    const e = err as { name?: unknown; code?: unknown };
    if (e.name === 'UsageError') return 2;
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) return 2;
  }
  return 1;
}
