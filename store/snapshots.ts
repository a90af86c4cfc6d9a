// Copy snapshots (issue 16), as Buildah's vfs driver keeps them: for a chain of layers, the whole tree with every
// layer applied, in snapshots/<chainID hex>/diff, its tree record in snapshots/<chainID hex>/tree. A chain's snapshot
// is its parent's copied (snapshot-copy.ts) with the layer's tar applied by the one unpacker (unpack.ts, `apply`
// mode: whiteouts and opaque directories delete from the copy); the tar is hashed on the way and must be the diffID.
// A layer this store has unpacked or committed, and which deletes nothing (a COPY's), is merged from its directory
// by hard links instead (snapshot-merge.ts): no byte written twice.
// Snapshots are only read once in place (views for COPY, sources of copies), so a chain's snapshot shares its parent's
// files (hard links) and writes only what its layer changes; a RUN works in a scratch copy (a real one: the command
// may write into a file), which then becomes its chain's snapshot by a rename (adopt), never a second copy.
import { mkdir, rename, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { DigestingStream, digestHex, type Descriptor, type Digest } from '../oci/index.js';
import type { Blobs } from './api.js';
import { decompressed } from './decompress.js';
import { LayerError } from './errors.js';
import { tempName } from './fsutil.js';
import { copyTree, shareTree, type SnapshotRecord } from './snapshot-copy.js';
import { mergeLayerDir } from './snapshot-merge.js';
import { writeTreeRecord } from './tree.js';

export interface SnapshotLayer {
  diffID: Digest;
  descriptor: Descriptor;
}

/** OCI chain IDs: ChainID(L0) = DiffID(L0), ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)). */
export function chainIDs(diffIDs: readonly Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const d of diffIDs) {
    const prev = out[out.length - 1];
    out.push(
      prev === undefined ? d : (`sha256:${createHash('sha256').update(`${prev} ${d}`).digest('hex')}` as Digest),
    );
  }
  return out;
}

/** A private writable copy of a snapshot, and the record of each entry as copied. */
export interface Scratch {
  dir: string;
  record: SnapshotRecord;
  /** Removes it (a no-op after adopt). */
  release(): Promise<void>;
}

export class Snapshots {
  /** chainID → the build of its snapshot in flight (two stages on one base build it once). */
  private readonly building = new Map<string, Promise<string>>();

  constructor(
    readonly root: string,
    private readonly blobs: Blobs,
    /** Marks a snapshot in use until the store closes (Store.use): a prune keeps it meanwhile. */
    private readonly use: (names: string[]) => Promise<void> = async () => undefined,
  ) {}

  private base(): string {
    return join(this.root, 'snapshots');
  }

  private diffOf(chainID: Digest): string {
    return join(this.base(), digestHex(chainID), 'diff');
  }

  /** The snapshot of `layers` (lowest first), made now from the nearest snapshot below it when missing. */
  async dir(layers: readonly SnapshotLayer[]): Promise<string> {
    if (layers.length === 0) return this.empty();
    const chain = chainIDs(layers.map((l) => l.diffID));
    const top = chain[chain.length - 1]!;
    const dir = this.diffOf(top);
    // leased before it is looked for: a prune that began before waits for this to see it, one after keeps it
    await this.use([snapshotLease(top)]);
    if (existsSync(dir)) return dir;
    let p = this.building.get(top);
    if (!p) {
      p = (async () => {
        const parent = await this.dir(layers.slice(0, -1));
        const layer = layers[layers.length - 1]!;
        if (await this.merged(parent, layer, top)) return dir;
        // read-only from here on: the parent's files are shared (hard links), only the layer's entries are written
        const s = await this.copyOf(parent, true);
        try {
          await this.apply(s.dir, layer);
          await this.install(s.dir, top);
        } catch (e) {
          await s.release();
          throw e;
        }
        return dir;
      })();
      this.building.set(top, p);
      p.then(
        () => this.building.delete(top),
        () => this.building.delete(top),
      );
    }
    return p;
  }

  /**
   * The snapshot `chainID` made from its parent's and the layer's unpacked directory, when this store has one (a
   * layer a step of this store committed): linked, not written. False when there is none, or it deletes anything.
   */
  private async merged(parent: string, layer: SnapshotLayer, chainID: Digest): Promise<boolean> {
    const layerDir = join(this.root, 'layers', digestHex(layer.diffID), 'diff');
    if (!existsSync(layerDir)) return false;
    const s = await this.copyOf(parent, true);
    try {
      if (mergeLayerDir(layerDir, s.dir)) {
        await this.install(s.dir, chainID);
        return true;
      }
    } catch {
      // e.g. an inode with no room for another link: the tar is applied instead
    }
    await s.release();
    return false;
  }

  /** A writable copy of the snapshot of `layers`, with the record of what was copied. */
  async scratch(layers: readonly SnapshotLayer[]): Promise<Scratch> {
    return this.copyOf(await this.dir(layers));
  }

  /**
   * Makes the scratch tree `scratch` (from scratch(), changed) the snapshot of `layers`; when another build got there
   * first, the scratch is dropped.
   */
  async adopt(scratch: Scratch, layers: readonly SnapshotLayer[]): Promise<void> {
    if (layers.length === 0) return scratch.release();
    const chain = chainIDs(layers.map((l) => l.diffID));
    await this.install(scratch.dir, chain[chain.length - 1]!);
  }

  private async empty(): Promise<string> {
    const dir = join(this.base(), 'empty', 'diff');
    if (!existsSync(dir)) {
      const tmp = tempName(this.base(), 'tmp');
      await mkdir(join(tmp, 'diff'), { recursive: true, mode: 0o755 });
      await rename(tmp, join(this.base(), 'empty')).catch(() => rm(tmp, { recursive: true, force: true }));
    }
    return dir;
  }

  private async copyOf(src: string, share = false): Promise<Scratch> {
    await mkdir(this.base(), { recursive: true, mode: 0o700 });
    const tmp = tempName(this.base(), 'tmp');
    const dir = join(tmp, 'diff');
    await mkdir(dir, { recursive: true });
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      await rm(tmp, { recursive: true, force: true });
    };
    try {
      if (share) {
        await shareTree(src, dir);
        return { dir, record: new Map(), release };
      }
      return { dir, record: await copyTree(src, dir), release };
    } catch (e) {
      await release();
      throw e;
    }
  }

  /** Applies the layer's tar (any compression) onto `dir`; the tar must hash to the layer's diffID. */
  private async apply(dir: string, layer: SnapshotLayer): Promise<void> {
    const src = await this.blobs.open(layer.descriptor.digest);
    const tar = await decompressed(src);
    const hashed = new DigestingStream();
    tar.on('error', (e) => hashed.destroy(e));
    const { unpackTar } = await import('./layer-tar/unpack.js');
    await unpackTar(tar.pipe(hashed), dir, { mode: 'apply', digest: layer.descriptor.digest, skipDevices: true });
    if (!hashed.readableEnded) {
      hashed.resume();
      await new Promise<void>((res, rej) => {
        hashed.once('end', res);
        hashed.once('error', rej);
      });
    }
    if (hashed.digest() !== layer.diffID) {
      throw new LayerError(`layer ${layer.descriptor.digest} is not the tar its diffID ${layer.diffID} names`, {
        digest: layer.descriptor.digest,
      });
    }
  }

  /** Records the tree and renames `dir`'s parent (a tmp dir) into place as `chainID`. */
  private async install(dir: string, chainID: Digest): Promise<void> {
    const tmp = join(dir, '..');
    await writeTreeRecord(dir, join(tmp, 'tree'));
    const final = join(this.base(), digestHex(chainID));
    try {
      await rename(tmp, final);
    } catch (e) {
      const code = (e as { code?: string }).code;
      await rm(tmp, { recursive: true, force: true });
      if ((code === 'ENOTEMPTY' || code === 'EEXIST') && existsSync(join(final, 'diff'))) return;
      throw e;
    }
  }
}

/** The snapshots of a store (one per build: its stages share the snapshot builds in flight). */
export function openSnapshots(store: { root: string; blobs: Blobs; use?(names: string[]): Promise<void> }): Snapshots {
  return new Snapshots(store.root, store.blobs, (names) => store.use?.(names) ?? Promise.resolve());
}

/** A snapshot's name in snapshots/: the hex of its chain ID. */
export const SNAPSHOT_ENTRY = /^[0-9a-f]{64}$/;

/**
 * What a build that uses the snapshot of `chainID` names in its lease. `tsbuild prune` removes every snapshot not
 * leased (store/ops/gc.ts): a snapshot is remade from its layers when needed.
 */
export function snapshotLease(chainID: Digest | string): string {
  return `snapshot:${chainID.startsWith('sha256:') ? digestHex(chainID as Digest) : chainID}`;
}

export type { SnapshotRecord };
