// A COPY's per-file inputs (path → mode:hash, for `previousLayer` and the miss reasons) as the cache key's hash
// meets them, written to a file in the build's scratch directory rather than held: a no-op rebuild of a
// million-file context never needs them as objects (a hit reads nothing; the stage's inputs record, when something
// else in the stage ran, copies the file's bytes), and a miss reads them back once.
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

/** Written in pieces of this size. */
const PIECE = 1 << 16;

export class FilesSpool {
  private buf = '';
  private fd: number | undefined;
  private count = 0;
  private loaded: Promise<Record<string, string>> | undefined;

  private constructor(readonly path: string) {
    this.fd = openSync(path, 'wx', 0o600);
  }

  /** A new spool in `dir` (made if missing). */
  static create(dir: string): FilesSpool {
    mkdirSync(dir, { recursive: true });
    return new FilesSpool(join(dir, `files-${randomBytes(6).toString('hex')}.json`));
  }

  /** One file's entry; a path given twice reads back as its last value, as in an object. */
  add(rel: string, modeHash: string): void {
    this.buf += `${this.count++ === 0 ? '' : ','}${JSON.stringify(rel)}:${JSON.stringify(modeHash)}`;
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
    return (this.loaded ??= readFile(this.path, 'utf8').then((t) => JSON.parse(`{${t}}`) as Record<string, string>));
  }

  /** The entries as the members of a JSON object (no braces), in pieces. */
  async *members(): AsyncGenerator<string> {
    this.finish();
    for await (const piece of createReadStream(this.path, { encoding: 'utf8', highWaterMark: PIECE }))
      yield piece as string;
  }

  private flush(): void {
    if (this.buf === '' || this.fd === undefined) return;
    writeSync(this.fd, this.buf);
    this.buf = '';
  }
}
