// `tsbuild prune --keep-storage SIZE --filter until=DURATION`: buildx's names and value syntax. Sizes as docker's
// RAMInBytes (`10GB`, `512MB`, `1.5g`, `4096`: binary multiples, as buildx reads them); durations as Go's
// time.ParseDuration (`24h`, `30m`, `1h30m`, `90s`). Anything else is a usage error naming the flag and the value.
import { UsageError } from './context.js';

const SIZE_UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };

export function parseSize(text: string, flag = '--keep-storage'): number {
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp])?i?b?$/i.exec(text.trim());
  if (!m) throw new UsageError(`${flag} "${text}" is not a size (like 10GB, 512MB, 1.5g or a number of bytes)`);
  return Math.floor(Number(m[1]) * SIZE_UNITS[(m[2] ?? '').toLowerCase()]!);
}

const DURATION_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Go's duration syntax (a unit is required, `0` alone excepted), in milliseconds. */
export function parseDuration(text: string, what = 'until'): number {
  const bad = (): UsageError =>
    new UsageError(`--filter ${what}="${text}" is not a duration (like 24h, 30m, 1h30m or 90s)`);
  if (text === '0') return 0;
  // µ escaped: esbuild escapes strings for the ASCII bundle, not regular expressions
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|ms|s|m|h)/y;
  let ms = 0;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) throw bad();
    ms += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    at = re.lastIndex;
  }
  if (at === 0) throw bad();
  return ms;
}

export interface PruneBoundFlags {
  keepStorage?: string;
  filter: string[];
}

/** The bounds for the store's prune; an unknown --filter key, or a value that does not parse, exits 2 naming it. */
export function pruneBounds(flags: PruneBoundFlags): { keepStorage?: number; untilMs?: number } {
  const out: { keepStorage?: number; untilMs?: number } = {};
  if (flags.keepStorage !== undefined) out.keepStorage = parseSize(flags.keepStorage);
  for (const f of flags.filter) {
    const eq = f.indexOf('=');
    const key = eq < 0 ? f : f.slice(0, eq);
    if (key !== 'until')
      throw new UsageError(`--filter ${key} is not supported by tsbuild prune (only until=DURATION, as 24h or 30m)`);
    if (eq < 0) throw new UsageError('--filter until needs a duration: until=24h');
    out.untilMs = parseDuration(f.slice(eq + 1));
  }
  return out;
}
