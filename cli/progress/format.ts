// Small formatting helpers shared by the progress views and the build report: bytes, durations, short digests.

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB'];

/** Decimal byte sizes as docker prints them: `512B`, `1.2kB`, `34.5MB`. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '?';
  let v = n;
  let u = 0;
  while (v >= 1000 && u < UNITS.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${v}${UNITS[u]}` : `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)}${UNITS[u]}`;
}

/** Seconds with one decimal, as BuildKit shows step times: `0.0s`, `12.3s`; minutes past 100s: `2m05s`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 100) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  const rest = Math.floor(s - m * 60);
  return `${m}m${String(rest).padStart(2, '0')}s`;
}

/** `sha256:0123456789ab` — the algorithm and the first 12 hex digits. */
export function shortDigest(d: string): string {
  const i = d.indexOf(':');
  return i < 0 ? d.slice(0, 12) : d.slice(0, i + 1 + 12);
}

/** `[====>     ]`: a fraction (0 to 1) as a bar `width` cells wide, between brackets. */
export function progressBar(frac: number, width: number): string {
  const full = Math.round(Math.min(1, Math.max(0, frac)) * width);
  return (
    '[' +
    '='.repeat(Math.max(0, full - 1)) +
    (full > 0 ? (full === width ? '=' : '>') : '') +
    ' '.repeat(width - full) +
    ']'
  );
}
