// Draws the live view's model as the lines of one frame, fitted to the terminal: a header, one line per step (with
// its elapsed time right-aligned and, while it runs, the tail of its output), one bar per pull/push, and at the end
// a summary. Pure: the clock and the terminal size are parameters.
import cliTruncate from 'cli-truncate';
import stringWidth from 'string-width';
import stripAnsi from 'strip-ansi';
import { styleText } from 'node:util';
import { formatBytes, formatDuration, progressBar, shortDigest } from '../format.js';
import { stepCounts, transferTotals, type StepView, type TransferView, type ViewState } from './state.js';

export interface FrameOptions {
  now: number;
  columns: number;
  /** Lines the frame may take; undefined for the final frame, which is printed once and may scroll. */
  maxLines?: number;
  color: boolean;
  /** The build was interrupted by the user: failed steps were cancelled, not broken. */
  interrupted?: boolean;
}

const BAR_WIDTH = 20;

function fit(line: string, columns: number): string {
  return cliTruncate(line, Math.max(10, columns - 1), { position: 'end' });
}

/** `left` and `right` on one line, `right` flush with the last column (truncating `left` if needed). */
function spread(left: string, right: string, columns: number): string {
  const width = Math.max(10, columns - 1);
  const rw = stringWidth(right);
  const room = width - rw - 1;
  const l = stringWidth(left) > room ? cliTruncate(left, Math.max(1, room), { position: 'end' }) : left;
  return l + ' '.repeat(Math.max(1, width - stringWidth(l) - rw)) + right;
}

/** Program output made safe for the view: no escape sequences, tabs, or carriage returns. */
export function cleanOutputLine(line: string): string {
  const plain = stripAnsi(line);
  const afterCr = plain.slice(plain.lastIndexOf('\r') + 1);
  return afterCr.replace(/\t/g, '  ').replace(/[\u0000-\u001f\u007f]/g, '');
}

function stepName(s: StepView): string {
  return `[${s.step.stage} ${s.step.index}/${s.step.total}] ${s.step.instruction.split('\n')[0]}`;
}

function stepLine(s: StepView, o: FrameOptions): string {
  const paint = (style: Parameters<typeof styleText>[0], t: string) => (o.color ? styleText(style, t) : t);
  const elapsed = formatDuration((s.end ?? o.now) - s.start);
  let mark = '';
  if (s.error !== undefined) mark = o.interrupted ? 'CANCELED ' : paint('red', 'ERROR') + ' ';
  else if (s.cached) mark = 'CACHED ';
  const line = ` => ${mark}${stepName(s)}`;
  return spread(line, s.end === undefined ? elapsed : s.cached ? '0.0s' : elapsed, o.columns);
}

function tailLines(s: StepView, o: FrameOptions): string[] {
  return s.tail.map((l) => {
    const t = fit(` => => # ${cleanOutputLine(l)}`, o.columns);
    return o.color ? styleText('dim', t) : t;
  });
}

function transferLine(t: TransferView, o: FrameOptions): string {
  const { current, total, done } = transferTotals(t);
  const verb = t.kind === 'pull' ? (done ? 'pulled' : 'pulling') : done ? 'pushed' : 'pushing';
  const secs = Math.max(0.001, (t.last - t.start) / 1000);
  const blobs = `${t.blobs.size} blob${t.blobs.size === 1 ? '' : 's'}`;
  if (done)
    return spread(
      ` => ${verb} ${t.ref} (${blobs}, ${formatBytes(total)})`,
      formatDuration(t.last - t.start),
      o.columns,
    );
  const speed = `${formatBytes(current / secs)}/s`;
  const right = `${progressBar(total > 0 ? current / total : 0, BAR_WIDTH)} ${formatBytes(current)} / ${formatBytes(total)} ${speed}`;
  return spread(` => ${verb} ${t.ref} (${blobs})`, right, o.columns);
}

function header(state: ViewState, o: FrameOptions): string {
  const { done, known } = stepCounts(state);
  const elapsed = formatDuration((state.end ?? o.now) - (state.start ?? o.now));
  const status = state.interrupted ? ' CANCELED' : state.end === undefined ? '' : state.ok ? ' FINISHED' : ' FAILED';
  return fit(`[+] Building ${elapsed} (${done}/${known})${status}`, o.columns);
}

/** The closing line: how long, how many steps ran and came from the cache, and the image ID. */
export function summaryLine(state: ViewState, o: Pick<FrameOptions, 'now'>): string {
  const { done, cached } = stepCounts(state);
  const elapsed = formatDuration((state.end ?? o.now) - (state.start ?? o.now));
  const steps = `${done} step${done === 1 ? '' : 's'}, ${cached} cached`;
  if (state.interrupted) return `Interrupted (${state.interrupted}) after ${elapsed}: ${steps}`;
  if (state.end === undefined) return `Stopped after ${elapsed}: ${steps}`;
  if (!state.ok) return `Build failed after ${elapsed}: ${steps}`;
  return `Built ${state.imageId ? shortDigest(state.imageId) : 'image'} in ${elapsed}: ${steps}`;
}

export function drawFrame(state: ViewState, opts: FrameOptions): string[] {
  const o: FrameOptions = state.interrupted ? { ...opts, interrupted: true } : opts;
  const final = o.maxLines === undefined;
  const transfers = state.transfers.filter((t) => !final || transferTotals(t).total > 0).map((t) => transferLine(t, o));
  // Each step is a block: its line, then (while running, or if it failed) the tail of its output.
  const blocks = state.steps.map((s) => {
    const lines = [stepLine(s, o)];
    if (s.end === undefined || s.error !== undefined) lines.push(...tailLines(s, o));
    return { running: s.end === undefined, lines };
  });
  const warnings = state.warnings.slice(-3).map((w) => fit(` => WARN: ${w}`, o.columns));
  const notes = state.notes.slice(-3).map((n) => fit(` => ${n}`, o.columns));
  const out = [header(state, o), ...transfers, ...notes];
  if (o.maxLines !== undefined) {
    // Too tall for the terminal: drop the oldest finished steps first, then trim the oldest tails.
    const budget = Math.max(3, o.maxLines - out.length - warnings.length - 1);
    let used = blocks.reduce((n, b) => n + b.lines.length, 0);
    let hidden = 0;
    for (let i = 0; i < blocks.length && used > budget; i++) {
      const b = blocks[i]!;
      if (b.running) continue;
      used -= b.lines.length;
      b.lines = [];
      hidden++;
    }
    for (const b of blocks) {
      while (used > budget && b.lines.length > 1) {
        b.lines.splice(1, 1);
        used--;
      }
    }
    if (hidden > 0) out.push(fit(` => ... ${hidden} earlier step${hidden === 1 ? '' : 's'} done`, o.columns));
  }
  for (const b of blocks) out.push(...b.lines);
  out.push(...warnings);
  if (final) out.push(fit(summaryLine(state, o), o.columns));
  return out;
}
