// The one place that turns errors into what a user reads. Code below the CLI never prints.
import { UsageError } from './context.js';

/** Errors that carry their own user-facing rendering (file:line:col with a caret, registry hints, …). */
interface Renderable {
  render(): string;
}

function isRenderable(e: unknown): e is Renderable {
  return typeof e === 'object' && e !== null && typeof (e as Renderable).render === 'function';
}

export function formatError(err: unknown, debug: boolean): string {
  const body = isRenderable(err) ? err.render() : err instanceof Error ? err.message : String(err);
  const text = `error: ${body}`;
  if (debug && err instanceof Error && err.stack) return `${text}\n${err.stack}`;
  return text;
}

/** 2 for usage errors, 1 for everything else (a failed build, a failed pull, …). */
export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return 2;
  if (typeof err === 'object' && err !== null && (err as { exitCode?: unknown }).exitCode === 2) return 2;
  return 1;
}
