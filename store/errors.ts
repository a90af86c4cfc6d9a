// Errors the store raises: each names the digest and/or path a user needs to act on.
import { TsbuildError, type Digest } from '../oci/index.js';

export class StoreError extends TsbuildError {
  override name = 'StoreError';
  constructor(
    message: string,
    readonly info: { digest?: Digest | string; path?: string; cause?: unknown; hint?: string } = {},
    code = 'STORE',
  ) {
    super(code, message, { cause: info.cause, hint: info.hint });
  }
  render(): string {
    const parts = [this.message];
    if (this.info.digest && !this.message.includes(this.info.digest)) parts.push(`  digest: ${this.info.digest}`);
    if (this.info.path && !this.message.includes(this.info.path)) parts.push(`  path: ${this.info.path}`);
    if (this.hint) parts.push(`hint: ${this.hint}`);
    return parts.join('\n');
  }
}

/** A blob whose content does not hash to the digest it was promised under (nothing was kept). */
export class DigestMismatchError extends StoreError {
  override name = 'DigestMismatchError';
  constructor(
    readonly expected: Digest,
    readonly actual: Digest,
    readonly expectedSize?: number,
    readonly actualSize?: number,
  ) {
    super(
      expectedSize !== undefined && actualSize !== undefined && expectedSize !== actualSize
        ? `blob size mismatch for ${expected}: expected ${expectedSize} bytes, got ${actualSize}`
        : `blob digest mismatch: expected ${expected}, got ${actual}`,
      { digest: expected },
      'DIGEST_MISMATCH',
    );
  }
}

export class BlobNotFoundError extends StoreError {
  override name = 'BlobNotFoundError';
  constructor(digest: Digest, path: string) {
    super(`blob ${digest} is not in the store`, { digest, path }, 'BLOB_NOT_FOUND');
  }
}

/** A layer tar the unpacker refuses (path escape, link escape, oversized header, unsupported compression). */
export class LayerError extends StoreError {
  override name = 'LayerError';
  constructor(message: string, info: { digest?: Digest | string; path?: string; cause?: unknown } = {}) {
    super(message, info, 'LAYER_REFUSED');
  }
}
