// One walk of the image's tree for the scanners that look for files by name (npm's package.json, Python's
// *.dist-info, Go binaries): directories only, symlinks never followed, the kernel's pseudo filesystems skipped.
import type { ImageTree } from './types.js';

export interface WalkedFile {
  path: string;
  name: string;
  mode: number;
  size: number;
}

export interface WalkVisitor {
  /** Called for each directory; false skips what is below it. */
  dir?(path: string, name: string): boolean | void;
  file?(f: WalkedFile): void;
  /** Whether `file` needs the mode and size of a file of this name (default: no). */
  stat?(name: string): boolean;
}

const SKIP = new Set(['/proc', '/sys', '/dev']);
/** A bound on the depth so a hostile tree cannot make the walk unbounded (paths stay below PATH_MAX anyway). */
const MAX_DEPTH = 64;

export function walkTree(tree: ImageTree, visitors: WalkVisitor[]): void {
  drain(walkSteps(tree, visitors));
}

/** Runs a stepwise job to its end. */
export function drain<T>(steps: Generator<void, T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * Runs a stepwise job giving the event loop a turn every few milliseconds: a scan that runs beside a layer's
 * commit (early-scan.ts) does not hold up the commit's own work on this thread.
 */
export async function drainYielding<T>(steps: Generator<void, T>, sliceMs = 4): Promise<T> {
  let until = performance.now() + sliceMs;
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    if (performance.now() < until) continue;
    await new Promise((resolve) => setImmediate(resolve));
    until = performance.now() + sliceMs;
  }
}

/** The walk, one directory per step. */
export function* walkSteps(tree: ImageTree, visitors: WalkVisitor[]): Generator<void> {
  const stack: { path: string; depth: number }[] = [{ path: '/', depth: 0 }];
  while (stack.length > 0) {
    const { path, depth } = stack.pop()!;
    const entries = tree.list(path, (name) => visitors.some((v) => v.stat?.(name) === true));
    if (!entries) continue;
    // sorted so the order of what is found does not depend on the filesystem's
    entries.sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
    for (const e of entries) {
      const child = path === '/' ? `/${e.name}` : `${path}/${e.name}`;
      if (e.kind === 'dir') {
        if (SKIP.has(child) || depth >= MAX_DEPTH) continue;
        let descend = true;
        for (const v of visitors) if (v.dir?.(child, e.name) === false) descend = false;
        if (descend) stack.push({ path: child, depth: depth + 1 });
      } else if (e.kind === 'file') {
        for (const v of visitors) v.file?.({ path: child, name: e.name, mode: e.mode, size: e.size });
      }
    }
    yield;
  }
}
