// The OCI image layout's top level: `oci-layout` and `index.json`, whose entries carry the tags
// (`org.opencontainers.image.ref.name` holds the normalized name). index.json changes under a file lock and is
// replaced atomically.
import { chmodSync, existsSync, linkSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { MediaType, type Descriptor, type ImageIndex } from '../oci/types.js';
import { isNotFound, tempName, writeFileAtomic } from './fsutil.js';
import { withLock } from './lock.js';

export const REF_NAME = 'org.opencontainers.image.ref.name';

const EMPTY_INDEX = (): ImageIndex => ({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] });

/**
 * Mode of the store root and of every directory at its top level. The store holds what builds and pulled layers
 * made, setuid-root binaries included, under paths any user can name (layers/<hex>/diff): a 0755 store lets every
 * local user run them (moby CVE-2021-41091). 0700, not Docker's 0711: no other uid ever needs to reach a path in
 * the store (no user-namespace remapping; overlay looks lowerdirs up with the mounter's credentials, and a
 * container sees its rootfs and bind mounts from their own roots, never through the store's path).
 */
export const STORE_DIR_MODE = 0o700;

const TOP_DIRS = ['blobs', 'tmp', 'layers', 'l', 'diffids', 'compressed', 'cache', 'leases', 'run', 'locks', 'builder'];

/**
 * Synchronous: a few tiny calls, each cheaper than a trip through the thread pool, before anything else can run.
 * One listing of the root tells what is missing, so an existing store costs a stat and a readdir.
 */
export async function initLayout(root: string): Promise<void> {
  const st = statSync(root, { throwIfNoEntry: false });
  if (!st) {
    // The parents keep the default mode (a store under a user's home must not close the home); the root is private.
    mkdirSync(dirname(root), { recursive: true });
    mkdirIfMissing(root);
  }
  const present = new Set(readdirSync(root));
  for (const d of TOP_DIRS) if (!present.has(d)) mkdirIfMissing(join(root, d));
  if (!present.has('blobs') || !existsSync(join(root, 'blobs/sha256'))) mkdirIfMissing(join(root, 'blobs/sha256'));
  repairModes(root, st ? st.mode : STORE_DIR_MODE);
  if (!present.has('oci-layout')) writeFileSync(join(root, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  if (!present.has('index.json')) createEmptyIndex(root);
}

function mkdirIfMissing(dir: string): void {
  try {
    mkdirSync(dir, { mode: STORE_DIR_MODE });
  } catch (e) {
    if ((e as { code?: string }).code !== 'EEXIST') throw e;
  }
}

/**
 * A store made by an older tsbuild (0755 everywhere) is closed: its top-level directories first, the root last, so
 * a private root means the repair is done and a store already private costs one stat. Not a walk of the layers:
 * with the root and the directories under it closed, nothing below them can be reached by another user.
 */
function repairModes(root: string, mode: number): void {
  if ((mode & 0o7777) === STORE_DIR_MODE) return;
  for (const e of readdirSync(root, { withFileTypes: true })) {
    if (e.isDirectory()) chmodSync(join(root, e.name), STORE_DIR_MODE);
  }
  chmodSync(root, STORE_DIR_MODE);
}

/**
 * A new store's empty index.json, created only if absent (a hard link of a finished temp file: no lock, and a
 * concurrent opener's index, perhaps already holding a tag, is never replaced). Not fsynced: a crash can leave it
 * empty, which readIndexFile reads as the empty index it was; every later change is written durably.
 */
function createEmptyIndex(root: string): void {
  const tmp = tempName(root, '.tmp');
  writeFileSync(tmp, JSON.stringify(EMPTY_INDEX(), null, 2) + '\n');
  try {
    linkSync(tmp, join(root, 'index.json'));
  } catch (e) {
    if ((e as { code?: string }).code !== 'EEXIST') throw e;
  } finally {
    rmSync(tmp, { force: true });
  }
}

export async function readIndexFile(root: string): Promise<ImageIndex> {
  try {
    const text = await readFile(join(root, 'index.json'), 'utf8');
    // empty: the new store's index, its creation cut short by a crash (createEmptyIndex)
    return text.length === 0 ? EMPTY_INDEX() : (JSON.parse(text) as ImageIndex);
  } catch (e) {
    if (isNotFound(e)) return EMPTY_INDEX();
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
