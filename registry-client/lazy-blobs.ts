// The store's RemoteBlobOpener over registries: a lazy blob recorded by a build (a base image layer, a layer of a
// registry build cache) is fetched from the endpoint that listed it, with the same auth (~/.docker/config.json,
// tokens) and resumable download as a pull. One client for the whole command, closed with the store.
import type { Readable } from 'node:stream';
import type { RemoteBlobOpener, RemoteBlobSource } from '../oci/index.js';
import { downloadBlob } from './blob-stream.js';
import { RegistryClient } from './client.js';
import { resolveRegistryOptions, type RegistryOptions } from './options.js';

export async function remoteBlobOpener(opts: RegistryOptions = {}): Promise<RemoteBlobOpener> {
  const client = new RegistryClient(await resolveRegistryOptions(opts));
  return {
    async open(source: RemoteBlobSource): Promise<Readable> {
      if (source.kind !== 'registry') throw new Error(`the registry client cannot open a ${source.kind} source`);
      // The recorded endpoint is where the build found the blob (plain HTTP for an --insecure-registry then); the
      // digest the store checks while writing is what makes the bytes trustworthy, not the transport.
      const repo = client.repo({ base: source.endpoint, registry: source.registry }, source.repository, ['pull']);
      return downloadBlob(repo, source.blob);
    },
    close: () => client.close(),
  };
}
