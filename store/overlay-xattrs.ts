// Which xattr namespace the store's unpacked layers mark opaque directories in: `trusted` (made as root) or `user`
// (made rootless, where overlay is mounted with `userxattr`). A rootless overlay cannot read trusted.* marks, and a
// root one does not look at user.* ones, so a store keeps to the one it started with (recorded in `overlay-xattrs`;
// a store from before the record that holds layers is root's). A root store keeps working unchanged.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreError } from './errors.js';
import { isNotFound, writeFileAtomic } from './fsutil.js';
import { opaqueXattr } from './layer-tar/whiteouts.js';

export type XattrNamespace = 'trusted' | 'user';

export function currentXattrNamespace(): XattrNamespace {
  return opaqueXattr().startsWith('user.') ? 'user' : 'trusted';
}

/** Records the namespace on first use; refuses a store whose layers were unpacked in the other one. */
export async function checkOverlayXattrs(root: string, mine: XattrNamespace = currentXattrNamespace()): Promise<void> {
  const file = join(root, 'overlay-xattrs');
  let recorded: string | undefined;
  try {
    recorded = (await readFile(file, 'utf8')).trim();
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  if (recorded === undefined) {
    const held = (await readdir(join(root, 'layers')).catch(() => [] as string[])).some((n) => !n.startsWith('.'));
    recorded = held ? 'trusted' : mine;
    await writeFileAtomic(file, `${recorded}\n`);
  }
  if (recorded !== mine)
    throw new StoreError(
      `the store ${root} holds layers unpacked ${recorded === 'trusted' ? 'as root (trusted.overlay xattrs)' : 'rootless (user.overlay xattrs)'}, which a ${mine === 'user' ? 'rootless' : 'root'} run cannot use`,
      {
        path: file,
        hint: `give this mode a store of its own (--root DIR or TSBUILD_ROOT), or run in the mode that made it (--mode ${recorded === 'trusted' ? 'root' : 'rootless'})`,
      },
      'STORE_XATTR_NAMESPACE',
    );
}
