// The pull/push progress of `tsbuild pull` and `tsbuild push` (TransferProgress events from registry-client/): one
// line per blob state change with bytes/s (plain), live rows on a terminal, or one JSON object per line.
import type { RetryNotice, TransferProgress } from '../../registry-client/index.js';
import { formatBytes, formatDuration, progressBar, shortDigest } from './format.js';
import type { ProgressStream } from './index.js';

/** `--progress` of pull and push (the build's adds `tty`). */
export type TransferProgressMode = 'auto' | 'plain' | 'json' | 'quiet';

/** Renders transfer events: one line per blob state change with bytes/s (plain), live lines on a TTY, or JSON. */
export interface TransferRenderer {
  onProgress(p: TransferProgress): void;
  /** A request to the registry is retried (it is down or restarting): said at once, whatever the mode. */
  onRetry(n: RetryNotice): void;
  close(): void;
}

export async function createTransferRenderer(
  mode: TransferProgressMode,
  out: ProgressStream = process.stderr,
): Promise<TransferRenderer> {
  const { describeRetry } = await import('../../registry-client/index.js');
  if (mode === 'quiet') return { onProgress: () => undefined, onRetry: () => undefined, close: () => undefined };
  if (mode === 'json') {
    const lastPct = new Map<string, number>();
    return {
      onProgress(p) {
        if (p.action === 'download' || p.action === 'upload') {
          const pct = p.size > 0 ? Math.floor((p.transferred / p.size) * 100) : 0;
          const key = `${p.repository ?? ''} ${p.digest}`;
          if (p.transferred !== 0 && lastPct.get(key) === pct) return;
          lastPct.set(key, pct);
        }
        out.write(JSON.stringify({ time: new Date().toISOString(), ...p }) + '\n');
      },
      onRetry(n) {
        out.write(JSON.stringify({ time: new Date().toISOString(), kind: 'request', action: 'retry', ...n }) + '\n');
      },
      close: () => undefined,
    };
  }
  const tty = mode === 'auto' && out.isTTY === true && process.env.TERM !== 'dumb';
  // On a terminal the rows are redrawn in place by log-update, as the build's live view is.
  const log = tty ? (await import('log-update')).createLogUpdate(out) : undefined;
  interface Row {
    digest: string;
    size: number;
    transferred: number;
    start: number;
    state: string;
    line?: string;
  }
  const rows = new Map<string, Row>();
  const order: string[] = [];
  const rate = (r: Row): string => {
    const s = (Date.now() - r.start) / 1000;
    return s > 0 ? `${formatBytes(Math.round(r.transferred / s))}/s` : '';
  };
  const describe = (r: Row): string => {
    const done = r.state === 'done' || r.state === 'exists' || r.state === 'mount';
    if (r.state === 'exists') return `${shortDigest(r.digest)}: already present (${formatBytes(r.size)})`;
    if (r.state === 'mount')
      return `${shortDigest(r.digest)}: mounted from another repository (${formatBytes(r.size)})`;
    if (done)
      return `${shortDigest(r.digest)}: done ${formatBytes(r.size)} in ${formatDuration(Date.now() - r.start)} (${rate(r)})`;
    const frac = r.size > 0 ? Math.min(1, r.transferred / r.size) : 0;
    const pct = r.size > 0 ? ` ${Math.floor(frac * 100)}%` : '';
    const bar = tty ? ` ${progressBar(frac, 30)}` : '';
    return `${shortDigest(r.digest)}: ${r.state}${bar} ${formatBytes(r.transferred)}/${formatBytes(r.size)}${pct} ${rate(r)}`;
  };
  const redraw = (): void => {
    const width = Math.max(20, (out.columns ?? 100) - 1);
    log?.(order.map((k) => describe(rows.get(k)!).slice(0, width)).join('\n'));
  };
  let lastTick = Date.now();
  let closed = false;
  const timer = setInterval(
    () => {
      if (tty) return redraw();
      // Plain: a progress line every 2 s for what is still moving.
      if (Date.now() - lastTick < 2000) return;
      lastTick = Date.now();
      for (const k of order) {
        const r = rows.get(k)!;
        if (r.state === 'downloading' || r.state === 'uploading') out.write(describe(r) + '\n');
      }
    },
    tty ? 200 : 500,
  );
  timer.unref();
  return {
    onProgress(p) {
      if (p.kind !== 'blob') return;
      const key = `${p.repository ?? ''} ${p.digest}`;
      let r = rows.get(key);
      if (!r) {
        r = { digest: p.digest, size: p.size, transferred: 0, start: Date.now(), state: 'waiting' };
        rows.set(key, r);
        order.push(key);
      }
      const before = r.state;
      r.transferred = p.transferred;
      if (p.action === 'download') r.state = 'downloading';
      else if (p.action === 'upload') r.state = 'uploading';
      else if (p.action === 'retry') {
        if (!tty)
          out.write(`${shortDigest(p.digest)}: retrying at ${formatBytes(p.transferred)} (${p.message ?? 'error'})\n`);
        return;
      } else if (p.action === 'done' || p.action === 'exists' || p.action === 'mount') r.state = p.action;
      if (!tty && before !== r.state && r.state !== 'uploading' && r.state !== 'downloading')
        out.write(describe(r) + '\n');
      else if (!tty && before === 'waiting') out.write(`${shortDigest(p.digest)}: ${r.state} ${formatBytes(r.size)}\n`);
    },
    onRetry(n) {
      // on a terminal the line goes above the live rows, which are drawn again below it
      log?.clear();
      out.write(describeRetry(n) + '\n');
      if (tty) redraw();
    },
    close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      if (tty) redraw();
      log?.done();
    },
  };
}
