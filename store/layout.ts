// The OCI image layout's top level: `oci-layout` and `index.json`, whose entries carry the tags
// (`org.opencontainers.image.ref.name` holds the normalized name). index.json changes under a file lock and is
// replaced atomically.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MediaType, type Descriptor, type ImageIndex } from '../oci/types.js';
import { exists, isNotFound, writeFileAtomic } from './fsutil.js';
import { withLock } from './lock.js';

export const REF_NAME = 'org.opencontainers.image.ref.name';

export async function initLayout(root: string): Promise<void> {
  for (const d of ['blobs/sha256', 'tmp', 'layers', 'l', 'diffids', 'compressed', 'cache', 'leases', 'run', 'locks']) {
    await mkdir(join(root, d), { recursive: true });
  }
  if (!(await exists(join(root, 'oci-layout')))) await writeFile(join(root, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  if (!(await exists(join(root, 'index.json')))) {
    await withLock(root, 'index', async () => {
      if (!(await exists(join(root, 'index.json')))) await writeIndexFile(root, { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] });
    });
  }
}

export async function readIndexFile(root: string): Promise<ImageIndex> {
  try {
    return JSON.parse(await readFile(join(root, 'index.json'), 'utf8')) as ImageIndex;
  } catch (e) {
    if (isNotFound(e)) return { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
    throw e;
  }
}

async function writeIndexFile(root: string, index: ImageIndex): Promise<void> {
  await writeFileAtomic(join(root, 'index.json'), JSON.stringify(index, null, 2) + '\n');
}

/** Read-modify-write of index.json under the index lock. */
export async function updateIndex<T>(root: string, fn: (index: ImageIndex) => T): Promise<T> {
  return withLock(root, 'index', async () => {
    const index = await readIndexFile(root);
    const r = fn(index);
    await writeIndexFile(root, index);
    return r;
  });
}

export function tagsOf(index: ImageIndex): { name: string; target: Descriptor }[] {
  const out: { name: string; target: Descriptor }[] = [];
  for (const m of index.manifests) {
    const name = m.annotations?.[REF_NAME];
    if (name) out.push({ name, target: m });
  }
  return out;
}
