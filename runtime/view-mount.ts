// Read-only overlays the builder mounts outside any container: a stage's or image's root for COPY --from and RUN
// bind mounts (builder/view.ts), the filtered build context (builder/context-view.ts). One place knows overlay's two
// option forms: one string while it fits in a page, else `lowerdir+` one at a time (Linux 6.8+).
import { LibcError, MNT_DETACH, MOUNT_ATTR, mount, mountFs, MS, umount2 } from './libc.js';
import { inUserNamespace, userxattrFlag } from './userns.js';

const PAGE = 4096;

function escape(p: string): string {
  return p.replace(/([\\:,])/g, '\\$1');
}

/** Mounts `lowersTopFirst` (overlay's order: topmost first) read-only, nosuid and nodev on `target`. */
export function mountReadonlyOverlay(lowersTopFirst: string[], target: string): void {
  const opt = `lowerdir=${lowersTopFirst.map(escape).join(':')}${inUserNamespace() ? ',userxattr' : ''}`;
  if (opt.length < PAGE) {
    mount('overlay', target, 'overlay', MS.RDONLY | MS.NOSUID | MS.NODEV, opt);
    return;
  }
  mountFs(
    'overlay',
    target,
    [...lowersTopFirst.map((d): [string, string | null] => ['lowerdir+', d]), ...userxattrFlag()],
    MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV,
  );
}

/** Unmounts a view; one still busy (a reader that has not let go) is detached instead. */
export function unmountView(target: string): void {
  try {
    umount2(target, 0);
  } catch (e) {
    if (!(e instanceof LibcError && e.code === 'EBUSY')) throw e;
    umount2(target, MNT_DETACH);
  }
}
