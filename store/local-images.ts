// The local store's Images (store/api.ts): tags in index.json (layout.ts), images resolved from blobs (resolve.ts).
import type { Descriptor, Platform } from '../oci/index.js';
import { normalizeName } from '../oci/index.js';
import type { ImageRecord, Images } from './api.js';
import type { BlobStore } from './blobs.js';
import { StoreError } from './errors.js';
import { readIndexFile, REF_NAME, tagsOf, updateIndex } from './layout.js';
import type { Leases } from './leases.js';
import { resolveImage } from './resolve.js';

function canonicalName(name: string): string {
  try {
    return normalizeName(name);
  } catch {
    throw new StoreError(`"${name}" is not a valid image name`);
  }
}

export class LocalImages implements Images {
  constructor(
    private readonly root: string,
    private readonly files: BlobStore,
    private readonly leases: Leases,
  ) {}

  async tag(name: string, target: Descriptor): Promise<void> {
    const n = canonicalName(name);
    await this.leases.touch([target.digest]);
    await updateIndex(this.root, (index) => {
      const { annotations, ...rest } = target;
      const entry = { ...rest, annotations: { ...(annotations ?? {}), [REF_NAME]: n } };
      const named = index.manifests.filter((m) => m.annotations?.[REF_NAME] === n);
      // the tag names this very descriptor already: left where it is (the index is then not written)
      if (named.length === 1 && JSON.stringify(named[0]) === JSON.stringify(entry)) return;
      index.manifests = index.manifests.filter((m) => m.annotations?.[REF_NAME] !== n);
      index.manifests.push(entry);
    });
  }
  async untag(name: string): Promise<boolean> {
    let n: string;
    try {
      n = normalizeName(name);
    } catch {
      n = name;
    }
    return updateIndex(this.root, (index) => {
      const before = index.manifests.length;
      index.manifests = index.manifests.filter((m) => m.annotations?.[REF_NAME] !== n);
      return index.manifests.length !== before;
    });
  }
  async resolve(ref: string, platform?: Platform): Promise<ImageRecord | undefined> {
    // leased with its layers (blobs and diffIDs) before anyone uses it; resolved again if a prune came between
    return this.leases.hold(
      () => resolveImage(this.root, this.files, ref, platform),
      (rec) =>
        rec
          ? [
              rec.manifestDigest,
              rec.configDigest,
              ...rec.manifest.layers.map((l) => l.digest),
              ...(rec.config.rootfs?.diff_ids ?? []),
            ]
          : [],
    );
  }
  async list(): Promise<{ name: string; target: Descriptor }[]> {
    return tagsOf(await readIndexFile(this.root));
  }
}
