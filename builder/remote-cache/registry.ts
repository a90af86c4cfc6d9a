// A cache artifact in a registry repository: blobs uploaded (HEAD first, so shared layers cost nothing), the
// config blob, then the manifest with one PUT by tag. Reading HEADs the tag, fetches the manifest and config.
import PQueue from 'p-queue';
import type { Readable } from 'node:stream';
import type { BlobSource } from '../../oci/index.js';
import { digestOf } from '../../oci/index.js';
import { formatReference, type ImageRef } from '../../oci/index.js';
import type { Descriptor, Digest, ImageManifest } from '../../oci/index.js';
import {
  DigestMismatchError,
  isIndex,
  loadRegistryClient,
  RegistryError,
  resolveRegistryOptions,
  type RegistryClient,
  type RegistryOptions,
  type Repo,
} from '../../registry-client/index.js';
import { bytesSource, readSmall, recordsFromManifest, type CacheReader, type CacheWriter } from './backend.js';
import type { EncodedCache, ExportedRecord } from './format.js';

const MAX_CONFIG = 64 << 20;

type RegistryApi = Awaited<ReturnType<typeof loadRegistryClient>>;

async function openRepo(
  ref: ImageRef,
  opts: RegistryOptions,
  actions: ('pull' | 'push')[],
): Promise<{ client: RegistryClient; repo: Repo; rc: RegistryApi }> {
  const rc = await loadRegistryClient();
  const client = new rc.RegistryClient(await resolveRegistryOptions(opts));
  const ep = client.endpoints(ref.registry, actions.includes('push') ? 'push' : 'pull')[0]!;
  return { client, repo: client.repo(ep, ref.repository, actions), rc };
}

export async function registryWriter(ref: ImageRef, opts: RegistryOptions): Promise<CacheWriter> {
  const { client, repo, rc } = await openRepo(ref, opts, ['pull', 'push']);
  const reference = ref.tag ?? 'buildcache';
  return {
    async write(enc: EncodedCache, source: BlobSource): Promise<Descriptor> {
      const queue = new PQueue({ concurrency: Math.max(1, opts.concurrency ?? 4) });
      await Promise.all(enc.blobs.map((b) => queue.add(() => rc.uploadBlob(repo, source, b))));
      await rc.uploadBlob(repo, bytesSource(enc.config.bytes), enc.config.descriptor);
      const m = enc.manifest;
      const res = await repo.request({
        method: 'PUT',
        path: `/manifests/${reference}`,
        headers: { 'content-type': m.descriptor.mediaType, 'content-length': String(m.bytes.length) },
        body: () => m.bytes,
      });
      if (res.status !== 201 && res.status !== 200) await repo.fail(res, `PUT cache manifest ${formatReference(ref)}`);
      await rc.discardBody(res).catch(() => undefined);
      return m.descriptor;
    },
    close: () => client.close(),
  };
}

export async function registryReader(ref: ImageRef, opts: RegistryOptions): Promise<CacheReader> {
  const { client, repo, rc } = await openRepo(ref, opts, ['pull']);
  const noCache = {
    hasBlob: async () => false,
    readBytes: async (d: Digest): Promise<Buffer> => Promise.reject(new Error(`no ${d}`)),
  };
  const name = formatReference(ref);
  return {
    async load(): Promise<Record<string, ExportedRecord> | undefined> {
      let fetched;
      try {
        // The cache manifest is never kept locally: by tag it is one GET (no HEAD for a digest first).
        fetched = ref.digest
          ? await rc.manifestByDigest(repo, ref.digest, noCache)
          : await rc.getManifest(repo, ref.tag ?? 'latest');
      } catch (e) {
        if (e instanceof RegistryError && e.status === 404) return undefined;
        throw e;
      }
      if (isIndex(fetched.parsed, fetched.descriptor.mediaType)) return undefined;
      return recordsFromManifest(
        fetched.parsed as ImageManifest,
        async (d) => {
          const bytes = await readSmall(rc.downloadBlob(repo, d), MAX_CONFIG, `config ${d.digest} of ${name}`);
          const got = digestOf(bytes);
          if (got !== d.digest) throw new DigestMismatchError(repo.registry, repo.repository, d.digest, got);
          return bytes;
        },
        name,
      );
    },
    openBlob: async (d: Descriptor): Promise<Readable> => rc.downloadBlob(repo, d),
    sourceOf: (blob: Descriptor) => ({
      kind: 'registry',
      registry: repo.registry,
      repository: repo.repository,
      endpoint: repo.endpoint.base,
      blob: { ...blob },
    }),
    close: () => client.close(),
  };
}
