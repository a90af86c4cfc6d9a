// The tree record of an unpacked layer: one line per entry (path, type, mode, owner, size, rdev, mtime in ms for
// non-directories, symlink target). Written when a layer is unpacked or committed; `store verify` walks the tree
// and compares.
import * as fs from 'node:fs';
import { open } from 'node:fs/promises';

/** What a tree line records of one entry: from lstat after a walk (treeLine) or from a tar header (unpack.ts). */
export interface TreeEntry {
  rel: string;
  /** d f l c b p s, as `find -printf %y` */
  type: string;
  mode: number;
  uid: number;
  gid: number;
  /** Ignored for directories (recorded as 0). */
  size: number;
  rdev: number;
  /** Ignored for directories (recorded as 0). */
  mtimeMs: number;
  /** The symlink target; '' otherwise. */
  link: string;
}

/** The one tree-line format, shared by the walker below and the unpacker's header-built records. */
export function formatTreeLine(e: TreeEntry): string {
  const dir = e.type === 'd';
  // joined, not a template: a flat string (a template builds a tree of cons strings, ~15 objects per line, and a
  // layer's lines live until it is committed)
  return [
    e.rel,
    e.type,
    (e.mode & 0o7777).toString(8),
    `${e.uid}:${e.gid}`,
    dir ? 0 : e.size,
    e.rdev,
    dir ? 0 : e.mtimeMs,
    e.link,
  ].join('\t');
}

/** One line per entry of an unpacked tree: what `store verify` compares later. */
export function treeLine(rel: string, st: fs.Stats, link: string): string {
  const type = st.isDirectory()
    ? 'd'
    : st.isFile()
      ? 'f'
      : st.isSymbolicLink()
        ? 'l'
        : st.isCharacterDevice()
          ? 'c'
          : st.isBlockDevice()
            ? 'b'
            : st.isFIFO()
              ? 'p'
              : 's';
  const { mode, uid, gid, size, rdev } = st;
  return formatTreeLine({ rel, type, mode, uid, gid, size, rdev, mtimeMs: Math.floor(st.mtimeMs), link });
}

/** Walks `dir` (sorted) and yields tree lines. */
export function* walkTree(dir: string): Generator<string> {
  const stack: [string, string][] = [['', dir]];
  while (stack.length) {
    const [rel, abs] = stack.pop()!;
    const names = fs.readdirSync(abs).sort().reverse();
    for (const n of names) {
      const r = rel === '' ? n : `${rel}/${n}`;
      const a = `${abs}/${n}`;
      const st = fs.lstatSync(a);
      yield treeLine(r, st, st.isSymbolicLink() ? fs.readlinkSync(a) : '');
      if (st.isDirectory()) stack.push([r, a]);
    }
  }
}

export async function writeTreeRecord(dir: string, file: string): Promise<void> {
  await writeLines(file, [...walkTree(dir)].sort());
}

/** Writes `lines`, each ended by a newline, a few thousand at a time: never the whole record as one string. */
export async function writeLines(file: string, lines: readonly string[]): Promise<void> {
  const fh = await open(file, 'w', 0o644);
  try {
    for (let i = 0; i < lines.length; i += 4096) await fh.write(lines.slice(i, i + 4096).join('\n') + '\n');
  } finally {
    await fh.close();
  }
}

/** A tree line built from a tar header (the unpacker records without stat calls). */
export const headerTreeLine = (
  rel: string,
  type: string,
  mode: number,
  uid: number,
  gid: number,
  size: number,
  rdev: number,
  mtimeMs: number,
  link: string,
): string => formatTreeLine({ rel, type, mode, uid, gid, size, rdev, mtimeMs, link });
