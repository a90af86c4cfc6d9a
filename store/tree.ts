// The tree record of an unpacked layer: one line per entry (path, type, mode, owner, size, rdev, mtime in ms for
// non-directories, symlink target). Written when a layer is unpacked or committed; `store verify` walks the tree
// and compares.
import * as fs from 'node:fs';
import { open } from 'node:fs/promises';

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
  const dir = type === 'd';
  // joined, not a template: a flat string (a template builds a tree of cons strings, ~15 objects per line, and a
  // layer's lines live until it is committed)
  return [
    rel,
    type,
    (st.mode & 0o7777).toString(8),
    `${st.uid}:${st.gid}`,
    dir ? 0 : st.size,
    st.rdev,
    dir ? 0 : Math.floor(st.mtimeMs),
    link,
  ].join('\t');
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
