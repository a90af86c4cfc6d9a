// After a RUN, drop files that overlayfs copied up without changing them (e.g. `chmod 755` on a file that already
// was 755, or a tool that rewrites identical bytes and restores the time): BuildKit's differ leaves such files out
// of the layer too, and a step that changed nothing then commits no layer. Only entries whose mtime predates the
// container start can be unchanged copy-ups, so a RUN that only writes new files costs one walk of its upperdir.
import { lstatSync, readdirSync, rmdirSync, unlinkSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { withView } from '../view.js';

interface Candidate {
  rel: string;
  st: Stats;
}

function walk(upper: string, startMs: number): { files: Candidate[]; dirs: Candidate[] } {
  const files: Candidate[] = [];
  const dirs: Candidate[] = [];
  const visit = (rel: string): void => {
    for (const n of readdirSync(join(upper, rel))) {
      const r = rel ? `${rel}/${n}` : n;
      const st = lstatSync(join(upper, r));
      if (st.isDirectory()) {
        visit(r);
        if (st.mtimeMs < startMs) dirs.push({ rel: r, st });
      } else if (st.isFile() && st.mtimeMs < startMs && st.nlink === 1) files.push({ rel: r, st });
    }
  };
  visit('');
  return { files, dirs };
}

function sameMeta(a: Stats, b: Stats): boolean {
  return a.mode === b.mode && a.uid === b.uid && a.gid === b.gid && a.mtimeMs === b.mtimeMs;
}

async function sameContent(a: string, b: string, size: number): Promise<boolean> {
  const [fa, fb] = await Promise.all([open(a, 'r'), open(b, 'r')]);
  try {
    const chunk = Math.min(size, 1 << 20) || 1;
    const ba = Buffer.alloc(chunk);
    const bb = Buffer.alloc(chunk);
    for (let pos = 0; pos < size; pos += chunk) {
      const [ra, rb] = await Promise.all([fa.read(ba, 0, chunk, pos), fb.read(bb, 0, chunk, pos)]);
      if (ra.bytesRead !== rb.bytesRead || !ba.subarray(0, ra.bytesRead).equals(bb.subarray(0, rb.bytesRead)))
        return false;
    }
    return true;
  } finally {
    await Promise.all([fa.close(), fb.close()]);
  }
}

/** Removes unchanged copy-ups from `upper`, comparing against the merged `lowerdirs`. */
export async function pruneUnchangedCopyUps(
  upper: string,
  lowerdirs: string[],
  startMs: number,
  tmpDir: string,
): Promise<void> {
  const { files, dirs } = walk(upper, startMs);
  if (files.length === 0 && dirs.length === 0) return;
  await withView(lowerdirs, tmpDir, async (view) => {
    for (const f of files) {
      let lower: Stats;
      try {
        lower = lstatSync(join(view, f.rel));
      } catch {
        continue;
      }
      if (!lower.isFile() || lower.size !== f.st.size || !sameMeta(lower, f.st)) continue;
      if (await sameContent(join(upper, f.rel), join(view, f.rel), f.st.size)) unlinkSync(join(upper, f.rel));
    }
    // Deepest first: a directory copied up only to hold such files goes once it is empty.
    for (const d of dirs.sort((a, b) => b.rel.length - a.rel.length)) {
      if (readdirSync(join(upper, d.rel)).length > 0) continue;
      let lower: Stats;
      try {
        lower = lstatSync(join(view, d.rel));
      } catch {
        continue;
      }
      // Compare the directory as it was before files were pruned from it (an unlink updates its mtime).
      if (lower.isDirectory() && sameMeta(lower, d.st)) rmdirSync(join(upper, d.rel));
    }
  });
}
