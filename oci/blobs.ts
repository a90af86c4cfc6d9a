import type { Readable } from 'node:stream';
import type { Descriptor, Digest } from './types.js';

/**
 * Where blobs go and come from. The store implements both; registry-client only sees these interfaces, so it knows
 * nothing of the store (go-containerregistry's layering: sources and sinks meet at small interfaces).
 */
export interface BlobSink {
  hasBlob(digest: Digest): Promise<boolean>;
  /** Streams `src` in, verifying digest (and size when given); nothing is kept on a mismatch. */
  writeBlob(src: Readable, expected: { digest: Digest; size?: number }): Promise<{ digest: Digest; size: number }>;
}

export interface BlobSource {
  /** Opens a blob for reading; rejects with an error naming the digest when it is missing. */
  openBlob(digest: Digest): Promise<Readable>;
  blobSize(digest: Digest): Promise<number>;
}

/**
 * Where a blob that is recorded but not downloaded ("lazy", as BuildKit's lazy refs) can be fetched from. `blob` is
 * the blob as the source holds it; its digest differs from the local blob's when the source holds the gzip of an
 * uncompressed layer (a registry build cache), and the fetch then gunzips it.
 */
export type RemoteBlobSource =
  | {
      kind: 'registry';
      /** The registry as references name it (`docker.io`, `127.0.0.1:5000`). */
      registry: string;
      repository: string;
      /** The endpoint that served it (`http://127.0.0.1:5000`, a mirror's URL): fetches go back there. */
      endpoint: string;
      blob: Descriptor;
    }
  | {
      kind: 'oci-layout';
      /** An OCI image layout directory (a `type=local` build cache). */
      dir: string;
      blob: Descriptor;
    };

/** Opens a lazy blob's bytes at its source (registry-client implements it; the store only calls it). */
export interface RemoteBlobOpener {
  open(source: RemoteBlobSource): Promise<Readable>;
  close(): void;
}

/** An opener made on first use (so a command that never meets a lazy blob never loads the registry client). */
export function deferredOpener(make: () => Promise<RemoteBlobOpener>): RemoteBlobOpener {
  let made: Promise<RemoteBlobOpener> | undefined;
  return {
    open: async (source) => (await (made ??= make())).open(source),
    close: () =>
      void made?.then(
        (o) => o.close(),
        () => undefined,
      ),
  };
}
