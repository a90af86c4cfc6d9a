import type { Readable } from 'node:stream';
import type { Digest } from './types.js';

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
