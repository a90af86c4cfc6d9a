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

export function formatError(err: unknown, debug: boolean): string {
  const body = isRenderable(err) ? err.render() : err instanceof Error ? err.message : String(err);
  const text = `error: ${body}`;
  if (!debug || !(err instanceof Error)) return text;
  // --debug: the stack, and the stacks of the causes (a registry error wrapping a socket error, …).
  const parts = [text];
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < 5; depth++) {
    if (depth > 0) parts.push(`caused by: ${e.message}`);
    if (e.stack) parts.push(e.stack);
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
