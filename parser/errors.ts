// BuildfileError: every parse or validation failure, carrying the position a user needs to find it.
import { windowAround } from './excerpt.js';

export interface ErrorPosition {
  file: string;
  /** 1-based line. */
  line: number;
  /** 1-based column (UTF-16 units; tabs count as one). */
  column: number;
  /** The physical source line the position is on, without its line ending. */
  sourceLine: string;
}

/** TsbuildError's shape (oci/errors.ts; the parser imports no other part): a `code` and a `hint`. */
export class BuildfileError extends Error {
  override name = 'BuildfileError';
  readonly code = 'BUILDFILE_INVALID';
  readonly hint: string | undefined = undefined;
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly sourceLine: string;
  /** The one-line message without the position prefix. */
  readonly reason: string;

  constructor(reason: string, pos: ErrorPosition) {
    super(`${pos.file}:${pos.line}:${pos.column}: ${reason}`);
    this.reason = reason;
    this.file = pos.file;
    this.line = pos.line;
    this.column = pos.column;
    this.sourceLine = pos.sourceLine;
  }

  /** Compiler-style rendering: `file:line:col: message`, the source line, and a caret under the column. */
  render(): string {
    const head = `${this.file}:${this.line}:${this.column}: ${this.reason}`;
    if (this.sourceLine === '' && this.column <= 1) return head;
    // A line of megabytes is shown as a window around the column.
    const shown = windowAround(this.sourceLine, this.column);
    // Keep tabs in the caret line so the caret lines up under tab-indented source.
    const lead = shown.text.slice(0, Math.max(0, shown.column - 1)).replace(/[^\t]/g, ' ');
    return `${head}\n${shown.text}\n${lead}^`;
  }
}
