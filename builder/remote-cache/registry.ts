// A cache artifact in a registry repository: blobs uploaded (HEAD first, so shared layers cost nothing), the
// config blob, then the manifest with one PUT by tag. Reading HEADs the tag, fetches the manifest and config.
import PQueue from 'p-queue';
import type { Readable } from 'node:stream';
import type { BlobSource } from '../../oci/blobs.js';
import { digestOf } from '../../oci/digest.js';
import { formatReference, type ImageRef } from '../../oci/reference.js';
import type { Descriptor, Digest, ImageManifest } from '../../oci/types.js';
import { discardBody } from '../../registry-client/body-limit.js';
import { downloadBlob } from '../../registry-client/blob-stream.js';
import { RegistryClient, type Repo } from '../../registry-client/client.js';
import { DigestMismatchError, RegistryError } from '../../registry-client/errors.js';
import { getManifest, manifestByDigest } from '../../registry-client/manifest-fetch.js';
import { isIndex } from '../../registry-client/manifests.js';
import { resolveRegistryOptions, type RegistryOptions } from '../../registry-client/options.js';
import { uploadBlob } from '../../registry-client/upload.js';
import { bytesSource, readSmall, recordsFromManifest, type CacheReader, type CacheWriter } from './backend.js';
import type { EncodedCache, ExportedRecord } from './format.js';

const MAX_CONFIG = 64 << 20;

async function openRepo(ref: ImageRef, opts: RegistryOptions, actions: ('pull' | 'push')[]): Promise<{ client: RegistryClient; repo: Repo }> {
  const client = new RegistryClient(await resolveRegistryOptions(opts));
  const ep = client.endpoints(ref.registry, actions.includes('push') ? 'push' : 'pull')[0]!;
  return { client, repo: client.repo(ep, ref.repository, actions) };
}

export async function registryWriter(ref: ImageRef, opts: RegistryOptions): Promise<CacheWriter> {
  const { client, repo } = await openRepo(ref, opts, ['pull', 'push']);
  const reference = ref.tag ?? 'buildcache';
  return {
    async write(enc: EncodedCache, source: BlobSource): Promise<Descriptor> {
      const queue = new PQueue({ concurrency: Math.max(1, opts.concurrency ?? 4) });
      await Promise.all(enc.blobs.map((b) => queue.add(() => uploadBlob(repo, source, b))));
      await uploadBlob(repo, bytesSource(enc.config.bytes), enc.config.descriptor);
      const m = enc.manifest;
      const res = await repo.request({
        method: 'PUT',
        path: `/manifests/${reference}`,
        headers: { 'content-type': m.descriptor.mediaType, 'content-length': String(m.bytes.length) },
        body: () => m.bytes,
      });
      if (res.status !== 201 && res.status !== 200) await repo.fail(res, `PUT cache manifest ${formatReference(ref)}`);
      await discardBody(res).catch(() => undefined);
      return m.descriptor;
    },
    close: () => client.close(),
  };
}

export async function registryReader(ref: ImageRef, opts: RegistryOptions): Promise<CacheReader> {
  const { client, repo } = await openRepo(ref, opts, ['pull']);
  const noCache = { hasBlob: async () => false, readBytes: async (d: Digest): Promise<Buffer> => Promise.reject(new Error(`no ${d}`)) };
  const name = formatReference(ref);
  return {
    async load(): Promise<Record<string, ExportedRecord> | undefined> {
      let fetched;
      try {
        // The cache manifest is never kept locally: by tag it is one GET (no HEAD for a digest first).
        fetched = ref.digest ? await manifestByDigest(repo, ref.digest, noCache) : await getManifest(repo, ref.tag ?? 'latest');
      } catch (e) {
        if (e instanceof RegistryError && e.status === 404) return undefined;
        throw e;
      }
      if (isIndex(fetched.parsed, fetched.descriptor.mediaType)) return undefined;
      return recordsFromManifest(
        fetched.parsed as ImageManifest,
        async (d) => {
          const bytes = await readSmall(downloadBlob(repo, d), MAX_CONFIG, `config ${d.digest} of ${name}`);
          const got = digestOf(bytes);
          if (got !== d.digest) throw new DigestMismatchError(repo.registry, repo.repository, d.digest, got);
          return bytes;
        },
        name,
      );
    },
    openBlob: async (d: Descriptor): Promise<Readable> => downloadBlob(repo, d),
    sourceOf: (blob: Descriptor) => ({ kind: 'registry', registry: repo.registry, repository: repo.repository, endpoint: repo.endpoint.base, blob: { ...blob } }),
    close: () => client.close(),
  };
}
