// Content read back out of the store is checked against the digest it is stored under before anything made from it
// is committed elsewhere (a registry upload, a saved archive): a flipped byte or a truncated file must fail the
// command, not travel under a new digest that every later check calls "ok" (containerd does the same on unpack).
import { createHash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { Digest } from './types.js';

/** Stored content that does not hash to its digest (or has the wrong size): the store is damaged. */
export class DamagedContentError extends Error {
  override name = 'DamagedContentError';
  readonly code = 'E_STORE_DAMAGED';
  constructor(
    readonly digest: Digest,
    readonly actual: { digest?: Digest; size: number },
    readonly expectedSize: number | undefined,
    readonly what = 'blob',
  ) {
    super(
      `${what} ${digest} is damaged in the store: ` +
        (expectedSize !== undefined && actual.size !== expectedSize
          ? `it holds ${actual.size} bytes, the image says ${expectedSize}`
          : `its content hashes to ${actual.digest ?? 'something else'}`),
    );
  }
  /** The same damage, said from the command's side (which image, what was not done). */
  inImage(image: string, notDone: string): Error {
    return Object.assign(
      new Error(
        `${this.message}\n  image: ${image}\n  ${notDone}\n  hint: run \`tsbuild store verify\` to list the damage; remove the image (tsbuild rmi) and pull or build it again`,
        { cause: this },
      ),
      { name: 'DamagedContentError', code: this.code, digest: this.digest },
    );
  }
}

/**
 * A pass-through that hashes what flows and holds the last chunk back until the end is reached and the content
 * matched: a consumer never sees the whole of damaged content, so an upload cannot be committed with it.
 */
export class VerifyingStream extends Transform {
  private readonly hash = createHash('sha256');
  private size = 0;
  private held: Buffer | undefined;

  constructor(
    private readonly digest: Digest,
    private readonly expectedSize?: number,
    private readonly what = 'blob',
  ) {
    super({ highWaterMark: 1 << 20 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    if (this.expectedSize !== undefined && this.size > this.expectedSize)
      return cb(new DamagedContentError(this.digest, { size: this.size }, this.expectedSize, this.what));
    const out = this.held;
    this.held = chunk;
    cb(null, out);
  }

  override _flush(cb: TransformCallback): void {
    const got = `sha256:${this.hash.digest('hex')}` as Digest;
    if (got !== this.digest || (this.expectedSize !== undefined && this.size !== this.expectedSize)) {
      return cb(new DamagedContentError(this.digest, { digest: got, size: this.size }, this.expectedSize, this.what));
    }
    cb(null, this.held);
  }
}

/** `src` checked against `digest` (and `size`): errors with DamagedContentError instead of delivering its end. */
export function verified(src: Readable, digest: Digest, size?: number, what?: string): Readable {
  const v = new VerifyingStream(digest, size, what);
  src.on('error', (e) => v.destroy(e));
  return src.pipe(v);
}

/** The DamagedContentError in `e` or its causes. */
export function damageIn(e: unknown): DamagedContentError | undefined {
  for (let c: unknown = e, i = 0; c && i < 6; c = (c as { cause?: unknown }).cause, i++)
    if (c instanceof DamagedContentError) return c;
  return undefined;
}
