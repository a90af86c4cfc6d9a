// A COPY's per-file inputs (path → mode:hash, for `previousLayer` and the miss reasons) as the cache key's hash
// meets them, written to a file in the build's scratch directory rather than held: a no-op rebuild of a
// million-file context never needs them as objects (a hit reads nothing; the stage's inputs record, when something
// else in the stage ran, converts them to JSON a piece at a time), and a miss reads them back once.
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { createReadStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

/** Written in pieces of this size. */
const PIECE = 1 << 16;

export class FilesSpool {
  private buf = '';
  private fd: number | undefined;
  private loaded: Promise<Record<string, string>> | undefined;

  private constructor(readonly path: string) {
    this.fd = openSync(path, 'wx', 0o600);
  }

  /** A new spool in `dir` (made if missing). */
  static create(dir: string): FilesSpool {
    mkdirSync(dir, { recursive: true });
    return new FilesSpool(join(dir, `files-${randomBytes(6).toString('hex')}.json`));
  }

  /**
   * One file's entry; a path given twice reads back as its last value, as in an object. Kept as `path NUL value
   * NUL` (a path never holds a NUL): JSON only when read back, which a no-op rebuild never does.
   */
  add(rel: string, modeHash: string): void {
    this.buf += `${rel}\0${modeHash}\0`;
    if (this.buf.length >= PIECE) this.flush();
  }

  /** Ends the writing (idempotent). */
  finish(): void {
    if (this.fd === undefined) return;
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }

  /** The entries as one object, read once (a miss: the copy compares them with the last build's). */
  load(): Promise<Record<string, string>> {
    this.finish();
    return (this.loaded ??= (async () => {
      const out: Record<string, string> = {};
      for await (const [k, v] of this.pairs()) out[k] = v;
      return out;
    })());
  }

  /** The entries as the members of a JSON object (no braces), in pieces. */
  async *members(): AsyncGenerator<string> {
    let piece = '';
    let first = true;
    for await (const [k, v] of this.pairs()) {
      piece += `${first ? '' : ','}${JSON.stringify(k)}:${JSON.stringify(v)}`;
      first = false;
      if (piece.length >= PIECE) {
        yield piece;
        piece = '';
      }
    }
    if (piece !== '') yield piece;
  }

  /** The entries in the order they were added. */
  private async *pairs(): AsyncGenerator<[string, string]> {
    this.finish();
    let rest = '';
    for await (const chunk of createReadStream(this.path, { encoding: 'utf8', highWaterMark: PIECE })) {
      const parts = (rest + (chunk as string)).split('\0');
      rest = parts.pop()!;
      // pairs: an odd part left over waits for its value in the next chunk
      const even = parts.length - (parts.length % 2);
      for (let i = 0; i < even; i += 2) yield [parts[i]!, parts[i + 1]!];
      if (parts.length % 2 === 1) rest = `${parts[even]!}\0${rest}`;
    }
  }

  private flush(): void {
    if (this.buf === '' || this.fd === undefined) return;
    writeSync(this.fd, this.buf);
    this.buf = '';
  }
}
