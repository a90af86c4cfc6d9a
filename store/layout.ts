// The OCI image layout's top level: `oci-layout` and `index.json`, whose entries carry the tags
// (`org.opencontainers.image.ref.name` holds the normalized name). index.json changes under a file lock and is
// replaced atomically.
import { chmodSync, existsSync, linkSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { MediaType, type Descriptor, type ImageIndex } from '../oci/index.js';
import { isNotFound, tempName, writeFileAtomic } from './fsutil.js';
import { withLock } from './lock.js';
import { StoreError } from './errors.js';
import { markTopDir } from './xattr.js';

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

const TOP_DIRS = [
  'blobs',
  'tmp',
  'layers',
  'l',
  'diffids',
  'compressed',
  'cache',
  'leases',
  'used',
  'run',
  'locks',
  'builder',
];

const SPREAD_DIRS = ['run', 'layers', 'tmp'];

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
  // where trees of thousands of files are made (a step's upper directory, an unpacked layer): each in a block group
  // of its own (markTopDir says why); asked on every open, as a store made before this is marked too
  for (const d of SPREAD_DIRS) markTopDir(join(root, d));
  if (!present.has('oci-layout'))
    writeFileSync(join(root, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
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

/** The last good index.json: a copy of each version written (see writeIndexFile). */
export const INDEX_BACKUP = 'index.json.bak';

/** index.json read as it is, or why it cannot be. */
export type IndexState = { index: ImageIndex; text: string } | { damage: string; text: string };

function parseIndex(text: string): ImageIndex | undefined {
  try {
    const v = JSON.parse(text) as ImageIndex;
    return v && typeof v === 'object' && Array.isArray(v.manifests) ? v : undefined;
  } catch {
    return undefined;
  }
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/**
 * index.json, checked against its last good copy: garbled, or empty (0 bytes) while the last good copy had tags,
 * is damage; empty with no such copy is a new store whose creation a crash cut short (createEmptyIndex).
 */
export async function inspectIndexFile(
  root: string,
): Promise<{ state: IndexState; backup: () => Promise<ImageIndex | undefined> }> {
  const text = await readText(join(root, 'index.json'));
  // read only when index.json is in doubt: a sound one costs one read
  const backup = async (): Promise<ImageIndex | undefined> => {
    const b = await readText(join(root, INDEX_BACKUP));
    return b === undefined ? undefined : parseIndex(b);
  };
  if (text === undefined) return { state: { index: EMPTY_INDEX(), text: '' }, backup };
  if (text.trim().length === 0) {
    const b = await backup();
    const tags = b ? tagsOf(b).length : 0;
    if (tags > 0)
      return { state: { damage: `it is empty, but its last good copy names ${tags} tag(s)`, text }, backup };
    return { state: { index: EMPTY_INDEX(), text }, backup };
  }
  const index = parseIndex(text);
  if (!index) return { state: { damage: 'it is not a valid OCI index (unreadable JSON)', text }, backup };
  return { state: { index, text }, backup };
}

/**
 * The tags. A damaged index.json is restored from its last good copy, with a warning; with no good copy the error
 * names the file and what to do.
 */
export async function readIndexFile(root: string, locked = false): Promise<ImageIndex> {
  const { state, backup: readBackup } = await inspectIndexFile(root);
  if ('index' in state) return state.index;
  const path = join(root, 'index.json');
  const backup = await readBackup();
  if (!backup) {
    throw new StoreError(
      `the store's tag index ${path} is damaged: ${state.damage}, and there is no last good copy (${join(root, INDEX_BACKUP)})\n` +
        `  hint: move it aside (mv ${path} ${path}.damaged) to start with no tags; the images' blobs stay in the store until a prune`,
      { path },
    );
  }
  const restore = async (): Promise<ImageIndex> => {
    // under the lock another process may have restored it already
    const again = await inspectIndexFile(root);
    if ('index' in again.state) return again.state.index;
    await writeFileAtomic(path, JSON.stringify(backup, null, 2) + '\n');
    process.emitWarning(
      `the store's tag index ${path} was damaged (${state.damage}); restored its last good copy from ${INDEX_BACKUP} (${tagsOf(backup).length} tag(s))`,
      { code: 'TSBUILD_INDEX_RESTORED' },
    );
    return backup;
  };
  return locked ? restore() : withLock(root, 'index', restore);
}

async function writeIndexFile(root: string, index: ImageIndex): Promise<void> {
  // A second copy, as a file of its own (a damaged index.json inode must not damage it too): restoring from it loses
  // nothing. Written after index.json: a crash between the two leaves the copy one change behind, never ahead.
  const text = JSON.stringify(index, null, 2) + '\n';
  await writeFileAtomic(join(root, 'index.json'), text);
  await writeFileAtomic(join(root, INDEX_BACKUP), text);
}

/** Read-modify-write of index.json under the index lock; written only when `fn` changed it. */
export async function updateIndex<T>(root: string, fn: (index: ImageIndex) => T): Promise<T> {
  return withLock(root, 'index', async () => {
    const index = await readIndexFile(root, true);
    const before = JSON.stringify(index);
    const r = fn(index);
    // a rebuild that tags what the tag names already writes (and fsyncs) nothing
    if (JSON.stringify(index) !== before) await writeIndexFile(root, index);
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
