// The Buildfile as physical lines, and the map from offsets in a logical (continuation-joined) line back to
// the physical line and column they came from.

export class SourceLines {
  /** Physical lines without their `\n` (a trailing `\r` kept), BOM removed from the first. */
  readonly raw: string[];

  constructor(text: string) {
    const lines = text.split('\n');
    if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    if (lines.length > 0 && lines[0]!.startsWith('\uFEFF')) lines[0] = lines[0]!.slice(1);
    this.raw = lines;
  }

  get count(): number {
    return this.raw.length;
  }

  /** Line `n` (1-based) without any line-ending characters, for messages. */
  display(n: number): string {
    return (this.raw[n - 1] ?? '').replace(/[\r\n]+$/, '');
  }
}

export interface Segment {
  /** Offset in the logical line where this piece starts. */
  at: number;
  /** 1-based physical line. */
  line: number;
  /** 0-based column in the physical line of the piece's first character. */
  col: number;
}

/** Maps an offset in a logical line to a 1-based line and column. */
export function locate(segments: readonly Segment[], offset: number): { line: number; column: number } {
  let seg = segments[0]!;
  for (const s of segments) {
    if (s.at <= offset) seg = s;
    else break;
  }
  return { line: seg.line, column: seg.col + (offset - seg.at) + 1 };
}
