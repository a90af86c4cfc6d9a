// The one place that knows how deletions are spelled: OCI layer tars use `.wh.NAME` files and `.wh..wh..opq`
// markers; overlayfs uses 0/0 character devices (or zero-size files with the whiteout xattr) and opaque xattrs.
import { readFileSync } from 'node:fs';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';

/** xattrs that mark a directory opaque in an overlay upperdir (root mounts use trusted.*, unprivileged user.*). */
export const OPAQUE_XATTRS = ['trusted.overlay.opaque', 'user.overlay.opaque'] as const;
/** xattrs that mark a zero-size file as a whiteout (overlay's xwhiteout form). */
export const WHITEOUT_XATTRS = ['trusted.overlay.whiteout', 'user.overlay.whiteout'] as const;
let opaque: string | undefined;
/**
 * What unpack writes to make a directory opaque: trusted.* as root; user.* in a user namespace (a rootless run, where
 * overlay is mounted with `userxattr` and trusted.* cannot be written or read), and in a rootless build's first
 * process, which looks up the cache before it enters its namespace (TSBUILD_USERNS_PENDING=1, set by the CLI): its
 * store is the rootless one. Asked on first use, not at load: the CLI sets that variable after loading.
 */
export function opaqueXattr(): string {
  return (opaque ??=
    inUserNamespace() || process.env.TSBUILD_USERNS_PENDING === '1' ? 'user.overlay.opaque' : 'trusted.overlay.opaque');
}

/** This process runs in a user namespace other than the initial one (its uid_map is not the identity). */
function inUserNamespace(): boolean {
  try {
    return readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/).join(' ') !== '0 0 4294967295';
  } catch {
    return false;
  }
}

/** Overlay's private xattrs: never copied into a layer tar, never accepted from one. */
export function isOverlayXattr(name: string): boolean {
  return name.startsWith('trusted.overlay.') || name.startsWith('user.overlay.');
}

/** A 0/0 character device is an overlay whiteout. */
export function isWhiteoutDevice(isCharDevice: boolean, rdev: number): boolean {
  return isCharDevice && rdev === 0;
}

/** `y` marks an opaque directory; `x` (Linux 6.7+) only says the directory holds xattr whiteouts. */
export function isOpaqueValue(v: Buffer | undefined): boolean {
  return v !== undefined && v.length === 1 && v[0] === 0x79;
}

export type TarWhiteout = { kind: 'opaque' } | { kind: 'whiteout'; name: string } | undefined;

/** Classifies the last component of a tar entry name. */
export function parseTarWhiteout(base: string): TarWhiteout {
  if (base === OPAQUE_MARKER) return { kind: 'opaque' };
  if (base.startsWith(WHITEOUT_PREFIX)) return { kind: 'whiteout', name: base.slice(WHITEOUT_PREFIX.length) };
  return undefined;
}

export function tarWhiteoutName(base: string): string {
  return WHITEOUT_PREFIX + base;
}
