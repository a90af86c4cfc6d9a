// How build checks read, as buildx prints them: after a build, a summary line and one line per warning
// (`printWarnings`); under `--check`, "Check complete, …" then each warning with its rule URL, message and an
// excerpt of the Buildfile (BuildKit's lint PrintTo and errdefs Source.Print).
import type { CheckReport } from '../builder/index.js';

export interface ShownWarning {
  rule: string;
  message: string;
  description?: string;
  url: string;
  line: number;
  endLine: number;
}

/** ` - FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)` */
export function shortLine(w: ShownWarning): string {
  return `${w.rule}: ${w.message}${w.line > 0 ? ` (line ${w.line})` : ''}`;
}

/** The block printed after a build: empty when no check fired. `debug` adds each rule's description and URL. */
export function formatBuildWarnings(warnings: ShownWarning[], debug: boolean): string {
  if (warnings.length === 0) return '';
  const count = warnings.length === 1 ? '1 warning found' : `${warnings.length} warnings found`;
  const out = [`\n ${count}${debug ? '' : ' (use tsbuild --debug to expand)'}:`];
  for (const w of warnings) {
    out.push(` - ${shortLine(w)}`);
    if (!debug) continue;
    if (w.description) out.push(w.description);
    out.push(`More info: ${w.url}`, '');
  }
  return out.join('\n') + '\n';
}

/** What `build --check` prints on stdout. */
export function formatCheckReport(report: CheckReport): string {
  const n = report.warnings.length;
  if (n === 0) return 'Check complete, no warnings found.\n';
  const out = [`Check complete, ${n === 1 ? '1 warning has been found!' : `${n} warnings have been found!`}`];
  const lines = report.text.split('\n');
  for (const w of report.warnings) {
    out.push('', `WARNING: ${w.rule} - ${w.url}`, w.message, ...sourceExcerpt(report.file, lines, w.line, w.endLine));
  }
  return out.join('\n') + '\n';
}

/**
 * errdefs Source.Print: `FILE:LINE`, then the lines around the range (two more on each side for one line, one
 * for several), the range's lines marked `>>>`, between rules of 20 dashes.
 */
export function sourceExcerpt(file: string, lines: string[], first: number, last: number): string[] {
  if (first < 1 || first > lines.length) return [];
  let start = first;
  let end = Math.min(last, lines.length);
  const pad = end === start ? 4 : 2;
  for (let p = 0; p < pad; p++) {
    if (start > 1) {
      start--;
      p++;
    }
    if (end !== lines.length) {
      end++;
      p++;
    }
  }
  const out = [`${file}:${first}`, '-'.repeat(20)];
  for (let i = start; i <= end; i++) {
    const mark = i >= first && i <= last ? '>>>' : '   ';
    out.push(` ${String(i).padStart(3)} | ${mark} ${lines[i - 1]!}`);
  }
  out.push('-'.repeat(20));
  return out;
}
