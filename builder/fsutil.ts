// Small filesystem helpers shared by the COPY/ADD steps and the context: path resolution that never leaves a root
// (symlinks are followed inside it, as umoci's securejoin does), wildcard matching as Go's filepath.Match, and a
// bounded parallel map.
import { lstat, readlink } from 'node:fs/promises';
import { posix } from 'node:path';

/** Cleans a path the way Go's filepath.Clean does, as an absolute path under `/` (`../x` → `/x`). */
export function cleanAbs(p: string): string {
  return posix.normalize(posix.join('/', p)).replace(/\/+$/, '') || '/';
}

/**
 * Resolves `path` (absolute, inside the root) against a root directory, following symlinks but never leaving the
 * root: `..` and absolute link targets are taken relative to the root. Returns the resolved path inside the root
 * (absolute, `/`-based) — the last component is followed only when `followLast`.
 */
export async function secureResolve(root: string, path: string, followLast = true): Promise<string> {
  return (await secureResolveVisible(root, path, followLast, () => true))!;
}

/**
 * secureResolve, asking `visible(rel)` about every path it visits (symlinks before they are followed, `rel`
 * without a leading `/`): undefined as soon as one is not, as if it were not there (a .dockerignore'd path, which
 * an alias or a link must not reach either).
 */
export async function secureResolveVisible(
  root: string,
  path: string,
  followLast: boolean,
  visible: (rel: string) => boolean | Promise<boolean>,
): Promise<string | undefined> {
  const parts = cleanAbs(path).split('/').filter(Boolean);
  let resolved: string[] = [];
  let hops = 0;
  while (parts.length > 0) {
    const part = parts.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = [...resolved, part];
    if (!(await visible(candidate.join('/')))) return undefined;
    if (parts.length === 0 && !followLast) {
      resolved = candidate;
      break;
    }
    let st;
    try {
      st = await lstat(posix.join(root, ...candidate));
    } catch {
      resolved = candidate;
      continue;
    }
    if (!st.isSymbolicLink()) {
      resolved = candidate;
      continue;
    }
    if (++hops > 255) throw new Error(`too many levels of symbolic links resolving ${path}`);
    const target = await readlink(posix.join(root, ...candidate));
    if (target.startsWith('/')) resolved = [];
    parts.unshift(...target.split('/').filter(Boolean));
  }
  return '/' + resolved.join('/');
}

export function hasWildcard(p: string): boolean {
  return /[*?[]/.test(p);
}

/** Go's filepath.Match for one path component pattern, compiled to a RegExp. */
export function componentMatcher(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]!);
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) throw new Error(`syntax error in pattern "${pattern}"`);
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith('^')) cls = '^' + cls.slice(1);
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`);
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function pmap<T, R>(items: T[], limit: number, fn: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
