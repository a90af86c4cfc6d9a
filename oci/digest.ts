import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { Digest } from './types.js';

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export class DigestError extends Error {
  constructor(
    message: string,
    readonly value: string,
  ) {
    super(message);
    this.name = 'DigestError';
  }
}

export function isDigest(s: string): s is Digest {
  return DIGEST_RE.test(s);
}

/** Parses and validates a digest string (only sha256 is supported, as by the registries we target). */
export function parseDigest(s: string): Digest {
  if (!isDigest(s)) throw new DigestError(`invalid digest "${s}": expected sha256:<64 lowercase hex>`, s);
  return s;
}

export function digestOf(data: string | Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}` as Digest;
}

/** The hex part of a digest, used for file names. */
export function digestHex(d: Digest): string {
  return d.slice('sha256:'.length);
}

/** A pass-through stream that hashes and counts what flows through it. */
export class DigestingStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  size = 0;
  private result: Digest | undefined;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }

  /** Valid once the stream has ended. */
  digest(): Digest {
    this.result ??= `sha256:${this.hash.digest('hex')}` as Digest;
    return this.result;
  }
}
