// What an error quotes of the source: a few lines, each of bounded width. A Buildfile may hold a heredoc of
// 200,000 lines or a line of megabytes; echoing it whole makes the error itself unreadable (megabytes of stderr).

/** Lines an error quotes of one instruction. */
export const QUOTED_LINES = 20;
/** Characters an error quotes of one line. */
export const QUOTED_WIDTH = 200;

/** `line` cut to `width` characters, saying how much was left out. */
export function clipLine(line: string, width = QUOTED_WIDTH): string {
  return line.length <= width ? line : `${line.slice(0, width)}… (${line.length - width} more characters)`;
}

/**
 * The first `maxLines` lines of `text`, each clipped, and how many lines were left out. Splits lazily: a text of
 * millions of lines is not split whole.
 */
export function excerptLines(
  text: string,
  maxLines = QUOTED_LINES,
  width = QUOTED_WIDTH,
): { lines: string[]; more: number } {
  const lines: string[] = [];
  let at = 0;
  while (lines.length < maxLines) {
    const nl = text.indexOf('\n', at);
    lines.push(clipLine(nl < 0 ? text.slice(at) : text.slice(at, nl), width));
    if (nl < 0) return { lines, more: 0 };
    at = nl + 1;
  }
  if (at >= text.length) return { lines, more: 0 };
  let more = 1;
  for (let i = text.indexOf('\n', at); i >= 0; i = text.indexOf('\n', i + 1)) more++;
  return { lines, more };
}

/** "… (N more lines)" */
export function moreLines(n: number): string {
  return `… (${n} more ${n === 1 ? 'line' : 'lines'})`;
}

/**
 * A window of `line` around the 1-based `column`, at most about `width` characters, with the column it now has
 * (for a caret under it).
 */
export function windowAround(line: string, column: number, width = QUOTED_WIDTH): { text: string; column: number } {
  if (line.length <= width) return { text: line, column };
  const start = Math.max(0, Math.min(column - 1 - Math.floor(width / 2), line.length - width));
  const end = start + width;
  const head = start > 0 ? '…' : '';
  const tail = end < line.length ? '…' : '';
  return { text: head + line.slice(start, end) + tail, column: column - start + head.length };
}
