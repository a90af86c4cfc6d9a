// A cache artifact in an OCI image layout directory (type=local): blobs/sha256/…, and index.json naming the cache
// manifest with the `org.opencontainers.image.ref.name` annotation. index.json is rewritten under a lock file and
// renamed into place, so concurrent exporters leave a valid layout (last writer wins for the same tag).
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import lockfile from 'proper-lockfile';
import type { BlobSource } from '../../oci/index.js';
import type { Descriptor, ImageManifest } from '../../oci/index.js';
import { loadRegistryClient } from '../../registry-client/index.js';
import { recordsFromManifest, type CacheReader, type CacheWriter } from './backend.js';
import type { EncodedCache, ExportedRecord } from './format.js';

export async function localWriter(dir: string, tag: string): Promise<CacheWriter> {
  const layout = await (await loadRegistryClient()).OciLayout.open(dir);
  return {
    async write(enc: EncodedCache, source: BlobSource): Promise<Descriptor> {
      for (const b of enc.blobs) {
        if (!(await layout.hasBlob(b.digest)))
          await layout.writeBlob(await source.openBlob(b.digest), { digest: b.digest, size: b.size });
      }
      await layout.putBytes(enc.config.bytes, enc.config.descriptor.mediaType, enc.config.descriptor.digest);
      await layout.putBytes(enc.manifest.bytes, enc.manifest.descriptor.mediaType, enc.manifest.descriptor.digest);
      const release = await lockfile.lock(join(dir, 'index.json'), {
        retries: { retries: 50, minTimeout: 20, maxTimeout: 500 },
        stale: 30_000,
      });
      try {
        await layout.tag(tag, enc.manifest.descriptor);
      } finally {
        await release();
      }
      return enc.manifest.descriptor;
    },
    close: () => undefined,
  };
}

export async function localReader(dir: string, tag: string): Promise<CacheReader> {
  const exists = await stat(join(dir, 'index.json')).then(
    () => true,
    () => false,
  );
  const layout = exists ? await (await loadRegistryClient()).OciLayout.open(dir) : undefined;
  return {
    async load(): Promise<Record<string, ExportedRecord> | undefined> {
      if (!layout) return undefined;
      const desc = await layout.resolve(tag);
      if (!desc) return undefined;
      const manifest = JSON.parse((await layout.readBytes(desc.digest)).toString('utf8')) as ImageManifest;
      return recordsFromManifest(manifest, (d) => layout.readBytes(d.digest), `${dir} (${tag})`);
    },
    async openBlob(d: Descriptor): Promise<Readable> {
      if (!layout) throw new Error(`no OCI layout at ${dir}`);
      return layout.openBlob(d.digest);
    },
    close: () => undefined,
  };
}
