// Errors the builder raises, carrying what a user needs to act: the stage, step, source line, and for a failed RUN
// the exit code and the last lines the command printed. The CLI calls render().
import { TsbuildError, UsageError } from '../oci/index.js';
import { clipLine, excerptLines, moreLines } from '../parser/index.js';
import type { StepRef } from './events.js';

/** A step failed (a RUN exited non-zero, a COPY source was missing, …). Nothing was tagged. */
export class BuildError extends TsbuildError {
  override name = 'BuildError';
  constructor(
    message: string,
    readonly info: {
      file: string;
      step?: StepRef;
      /** The instruction's source text as written. */
      source?: string;
      exitCode?: number | null;
      signal?: string | null;
      /** Last output lines of the failing command (stdout and stderr interleaved). */
      lastLines?: string[];
      /** What to do about it (free space on a full disk, …). */
      hint?: string;
    },
  ) {
    super('BUILD_FAILED', message, { hint: info.hint });
  }

  render(): string {
    const { step, file, source, lastLines } = this.info;
    const out: string[] = [];
    // Everything quoted is bounded: the source of a step can be a heredoc of 200,000 lines, an output line megabytes.
    const message = clipLine(this.message, 2000);
    if (step)
      out.push(`failed to build [${step.stage} ${step.index}/${step.total}] ${clipLine(step.instruction)}: ${message}`);
    else out.push(message);
    if (step && source !== undefined) {
      const { lines, more } = excerptLines(source);
      lines.forEach((l, i) => out.push(`  ${file}:${step.line + i} | ${l}`));
      if (more > 0) out.push(`  ${moreLines(more)}`);
    }
    if (lastLines && lastLines.length > 0) {
      out.push('  last output:');
      for (const l of lastLines) out.push(`    ${clipLine(l, 2000)}`);
    }
    if (this.info.hint) out.push(`hint: ${this.info.hint}`);
    return out.join('\n');
  }
}

/** The Buildfile is valid syntax but cannot be built as written (unknown stage, bad flag, bad --target…). */
export class PlanError extends TsbuildError {
  override name = 'PlanError';
  constructor(
    message: string,
    readonly file: string,
    readonly line?: number,
  ) {
    super('PLAN_INVALID', message);
  }

  render(): string {
    return this.line ? `${this.file}:${this.line}: ${this.message}` : `${this.file}: ${this.message}`;
  }
}

/**
 * The Buildfile uses a form tsbuild does not support yet (ADD of a Git repository): like an unsupported flag, a
 * usage error (exit 2) naming the form, at its line.
 */
export class UnsupportedFormError extends UsageError {
  override name = 'UnsupportedFormError';
  constructor(
    message: string,
    readonly file: string,
    readonly line: number,
    hint?: string,
  ) {
    super(message, { hint });
  }

  render(): string {
    return `${this.file}:${this.line}: ${this.message}${this.hint ? `\nhint: ${this.hint}` : ''}`;
  }
}

/**
 * A build with `onlyIfCached` reached something it would have to do rather than take from the cache: a step to
 * run, or a layer to unpack or read. It stopped there, having written only what a cached build writes (cache
 * lookups, base image manifests and configs). The CLI's rootless mode then builds again in the user namespace.
 */
export class NotCachedError extends TsbuildError {
  override name = 'NotCachedError';
  constructor(readonly what: string) {
    super('NOT_CACHED', `not cached: ${what}`, { hint: 'build without onlyIfCached to run it' });
  }
}

/** Whether `e`, or an error it was caused by, is a NotCachedError. */
export function isNotCached(e: unknown): boolean {
  for (let c = e, n = 0; c instanceof Error && n < 8; c = c.cause, n++) if (c instanceof NotCachedError) return true;
  return false;
}
