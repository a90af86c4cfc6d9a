// An ImageTree over a directory holding an image's merged rootfs (a read-only view). Every path is opened with
// openat2 inside the root (runtime/root-fd.ts): the image is untrusted, so its symlinks and `..` never lead out.
// Reads are bounded and a FIFO or device never blocks (O_NONBLOCK, regular files only).
import { closeSync, fstatSync, lstatSync, readdirSync, type Stats } from 'node:fs';
import { fdPath, O, openIn, openRoot, readFdAt, type RootDir } from '../../runtime/index.js';
import type { ImageTree } from './types.js';

/** The default cap for one database file (a dpkg status of a large image is a few MiB). */
export const MAX_DB_FILE = 64 * 1024 * 1024;

export function openImageTree(dir: string): ImageTree & { close(): void } {
  const root = openRoot(dir);
  return {
    read: (path, max = MAX_DB_FILE) =>
      withFile(root, path, (fd, size) => (size > max ? undefined : readFdAt(fd, size))),
    openFile: (path) => {
      let fd: number;
      try {
        fd = openIn(root, path, O.RDONLY | O.NONBLOCK);
      } catch {
        return undefined;
      }
      let st: Stats | undefined;
      try {
        st = fstatSync(fd);
      } finally {
        if (!st?.isFile()) closeSync(fd);
      }
      if (!st.isFile()) return undefined;
      const size = st.size;
      return {
        size,
        readAt: (offset, len) => readFdAt(fd, Math.min(len, size - offset), offset),
        close: () => closeSync(fd),
      };
    },
    list: (path, stat = () => true) => {
      let fd: number;
      try {
        fd = openIn(root, path, O.RDONLY | O.DIRECTORY | O.NONBLOCK);
      } catch {
        return undefined;
      }
      try {
        // the fd's own directory, named through /proc/self/fd: no path is walked again
        const base = fdPath(fd);
        return readdirSync(base, { withFileTypes: true }).map((e) => {
          const kind = e.isDirectory() ? 'dir' : e.isFile() ? 'file' : e.isSymbolicLink() ? 'link' : 'other';
          let mode = 0;
          let size = 0;
          if (kind === 'file' && stat(e.name)) {
            try {
              // lstat: the last component is not followed, and `base` is the directory the fd holds
              const st = lstatSync(`${base}/${e.name}`);
              mode = st.mode;
              size = st.size;
            } catch {
              // vanished or unreadable: reported with no mode
            }
          }
          return { name: e.name, kind, mode, size };
        });
      } finally {
        closeSync(fd);
      }
    },
    close: () => root.close(),
  };
}

function withFile<T>(root: RootDir, path: string, fn: (fd: number, size: number) => T | undefined): T | undefined {
  let fd: number;
  try {
    fd = openIn(root, path, O.RDONLY | O.NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return undefined;
    return fn(fd, st.size);
  } finally {
    closeSync(fd);
  }
}
