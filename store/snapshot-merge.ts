// A layer this store has unpacked (layers/<diffID>/diff, overlay format) merged onto a snapshot by hard links, instead
// of its tar applied (snapshots.ts): the layer's files are immutable, as the snapshot's, so they can share inodes,
// and nothing is written but directories. Only for a layer with no deletion in it — a whiteout or an opaque
// directory means `false`, and the caller applies the tar instead (unpack.ts stays the one place that interprets
// deletions). Both trees are the store's own; the snapshot's entries come from untrusted images, so none of its
// symlinks is followed: a non-directory where the layer has a directory is replaced, as tar's apply does.
import * as fs from 'node:fs';
import { getXattr, listXattrs, setXattr } from './xattr.js';
import {
  isOpaqueValue,
  isOverlayXattr,
  isWhiteoutDevice,
  OPAQUE_XATTRS,
  WHITEOUT_XATTRS,
} from './layer-tar/whiteouts.js';
import { setMeta } from './snapshot-copy.js';

/** Merges `layerDir` onto `dest`; false (dest partly changed: discard it) when the layer deletes anything. */
export function mergeLayerDir(layerDir: string, dest: string): boolean {
  const dirs: [string, fs.BigIntStats, string][] = [];
  if (!mergeDir(layerDir, dest, dirs)) return false;
  // directory metadata last, deepest first: making their children changed their times
  for (const [dst, st, src] of dirs.reverse()) {
    copyLayerXattrs(src, dst);
    setMeta(dst, st, false);
  }
  return true;
}

function mergeDir(src: string, dst: string, dirs: [string, fs.BigIntStats, string][]): boolean {
  for (const name of fs.readdirSync(src)) {
    const s = `${src}/${name}`;
    const d = `${dst}/${name}`;
    const st = fs.lstatSync(s, { bigint: true });
    if (isWhiteoutDevice(st.isCharacterDevice(), Number(st.rdev))) return false;
    // a layer directory unpacked for overlay may hold device nodes: the unpacker skips them here (skipDevices)
    if (st.isCharacterDevice() || st.isBlockDevice()) return false;
    if (st.isFile() && st.size === 0n && hasAny(s, WHITEOUT_XATTRS)) return false;
    const there = fs.lstatSync(d, { throwIfNoEntry: false });
    if (st.isDirectory()) {
      if (OPAQUE_XATTRS.some((x) => isOpaqueValue(getXattr(s, x)))) return false;
      if (there && !there.isDirectory()) fs.rmSync(d, { force: true });
      if (!there?.isDirectory()) fs.mkdirSync(d, 0o700);
      dirs.push([d, st, s]);
      if (!mergeDir(s, d, dirs)) return false;
      continue;
    }
    if (there) fs.rmSync(d, { recursive: true, force: true });
    fs.linkSync(s, d);
  }
  return true;
}

function hasAny(path: string, names: readonly string[]): boolean {
  return listXattrs(path).some((n) => names.includes(n));
}

/** The layer directory's xattrs, but overlay's own (origin, impure… of a committed upperdir). */
function copyLayerXattrs(src: string, dst: string): void {
  for (const n of listXattrs(src)) {
    if (isOverlayXattr(n)) continue;
    const v = getXattr(src, n);
    if (v !== undefined) setXattr(dst, n, v);
  }
}
