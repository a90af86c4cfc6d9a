// The layer tar of a subtree a COPY wrote, made as it copied: it holds each small file in a buffer already, and the
// commit then walks that subtree with lstat alone instead of opening, reading and listing the xattrs of every file
// (diff.ts), and hands spans of this tar to the blob writer's thread whole. The commit does not trust it: beside the
// tar is a record of every entry (the fields its header is made of), and each must be what the upperdir's lstat
// gives, in the same order; only the small files' contents are taken on trust (this process wrote them into the
// upperdir from the same buffer, and no process runs in a COPY). Anything else fails the commit's walk with
// PremadeMismatch, and the commit starts over without it.
import { close, closeSync, openSync, readSync, write, writeSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type { FileBody } from './file-body.js';
import { BLOCK, encodeSimpleHeaderInto, headerBlocks, type TarEntryHeader } from './tar-header.js';

/** Bodies up to this size are in the premade tar; the commit reads larger ones from the upperdir. */
export const PREMADE_INLINE_MAX = 64 * 1024;

/** What a COPY hands its commit (CommitOptions.premade). */
export interface PremadeTar {
  /** The subtree's directory, relative to the upperdir ('' for all of it); its own entry is not in the tar. */
  root: string;
  /** The file holding the tar of the subtree's entries in the commit's order, without the large bodies. */
  path: string;
  size: number;
  /** One line per entry: its premadeKey, a tab, and where its bytes end in the tar. */
  records: string;
  /** The mtime clamp its headers were made with (SOURCE_DATE_EPOCH). */
  sourceDateEpoch: number | undefined;
}

/** The commit's walk met something the premade tar does not hold as it is: the commit starts over without it. */
export class PremadeMismatch extends Error {
  override name = 'PremadeMismatch';
}

/** An entry's time in a layer tar: whole seconds, clamped to SOURCE_DATE_EPOCH (the one rule diff.ts applies). */
export function tarMtime(mtimeMs: number, clamp: number | undefined): number {
  const t = Math.floor(mtimeMs / 1000);
  return clamp !== undefined && t > clamp ? clamp : t;
}

/**
 * What an entry's header is made of, as one string: the COPY writes it for each entry, the commit makes it from the
 * upperdir's lstat, and the two must be equal (the type is d, f or l; size 0 but for a file; mtime as tarMtime).
 */
export function premadeKey(
  rel: string,
  type: 'd' | 'f' | 'l',
  mode: number,
  uid: number,
  gid: number,
  size: number,
  mtime: number,
  link: string,
): string {
  return [rel, type, mode & 0o7777, uid, gid, size, mtime, link].join('\t');
}

const BATCH = 1 << 20;
/** A span of the premade tar handed on while the walk goes on (the blob writer's thread copies it). */
const SPAN = 4 << 20;

/** Writes the premade tar as a COPY goes; `abandon()` when it meets what it cannot hold (the commit walks then). */
export class PremadeTarWriter {
  private fd: number | undefined;
  private recordsFd: number | undefined;
  private buf: Buffer = Buffer.allocUnsafe(BATCH);
  /** Batches free for the next fill; the others are being written on the thread pool. */
  private spare: Buffer[] = [Buffer.allocUnsafe(BATCH)];
  private inFlight = 0;
  private settled: (() => void) | undefined;
  private failed = false;
  private off = 0;
  private written = 0;
  private lines = '';
  /** Entries written: a caller tells by it whether a copy gave its content. */
  count = 0;

  constructor(
    readonly path: string,
    /** The subtree's directory relative to the upperdir, as PremadeTar.root. */
    readonly root: string,
    private readonly clamp: number | undefined,
  ) {
    this.fd = openSync(path, 'wx', 0o600);
    try {
      this.recordsFd = openSync(`${path}.records`, 'wx', 0o600);
    } catch (e) {
      this.abandon();
      throw e;
    }
  }

  get live(): boolean {
    return this.fd !== undefined;
  }

  dir(rel: string, mode: number, uid: number, gid: number, mtimeMs: number): void {
    this.entry('d', { name: `${rel}/`, type: 'dir', size: 0, mode, uid, gid, mtime: tarMtime(mtimeMs, this.clamp) });
  }

  /** A regular file with `body` (its whole content, as written into the upperdir). */
  file(rel: string, mode: number, uid: number, gid: number, mtimeMs: number, body: Buffer): void {
    const mtime = tarMtime(mtimeMs, this.clamp);
    const h: TarEntryHeader = { name: rel, type: 'file', size: body.length, mode, uid, gid, mtime };
    this.entry('f', h, body.length <= PREMADE_INLINE_MAX ? body : undefined);
  }

  /** A regular file copied by the kernel: its header only (the commit reads its body from the upperdir). */
  largeFile(rel: string, mode: number, uid: number, gid: number, mtimeMs: number, size: number): void {
    if (size <= PREMADE_INLINE_MAX) return this.abandon(); // the commit would look for its body here
    this.entry('f', { name: rel, type: 'file', size, mode, uid, gid, mtime: tarMtime(mtimeMs, this.clamp) });
  }

  symlink(rel: string, target: string, uid: number, gid: number, mtimeMs: number): void {
    const mtime = tarMtime(mtimeMs, this.clamp);
    this.entry('l', { name: rel, type: 'symlink', size: 0, mode: 0o777, uid, gid, mtime, linkname: target });
  }

  /** Stops: the commit walks the subtree itself. */
  abandon(): void {
    const fd = this.fd;
    if (this.recordsFd !== undefined) closeSync(this.recordsFd);
    this.fd = this.recordsFd = undefined;
    if (fd === undefined) return;
    // never closed under a write still running: the number could name another file by then
    if (this.inFlight === 0) closeSync(fd);
    else this.whenSettled(() => close(fd, () => undefined));
  }

  /** The tar, complete once its writes are (undefined when abandoned or one failed). */
  async finish(): Promise<PremadeTar | undefined> {
    if (this.fd === undefined) return undefined;
    try {
      this.flush(true);
      if (this.inFlight > 0) await new Promise<void>((res) => this.whenSettled(res));
    } catch {
      this.failed = true;
    }
    const ok = !this.failed && this.fd !== undefined;
    this.abandon();
    if (!ok) return undefined;
    const { root, path, written: size, clamp: sourceDateEpoch } = this;
    return { root, path, size, records: `${path}.records`, sourceDateEpoch };
  }

  private whenSettled(f: () => void): void {
    const before = this.settled;
    this.settled = () => {
      before?.();
      f();
    };
  }

  private entry(t: 'd' | 'f' | 'l', eh: TarEntryHeader, body?: Buffer): void {
    if (this.fd === undefined) return;
    this.count++;
    const rel = t === 'd' ? eh.name.slice(0, -1) : eh.name;
    // a record is one line of tab-separated fields
    if (/[\t\n]/.test(rel) || (eh.linkname !== undefined && /[\t\n]/.test(eh.linkname))) return this.abandon();
    const len = body?.length ?? 0;
    const pad = (BLOCK - (len % BLOCK)) % BLOCK;
    const pax = headerBlocks(eh);
    if (pax) {
      if (this.off + pax.length + len + pad > this.buf.length) this.flush(false);
      if (pax.length + len + pad > this.buf.length) return this.abandon();
      pax.copy(this.buf, this.off);
      this.off += pax.length;
    } else {
      if (this.off + BLOCK + len + pad > this.buf.length) this.flush(false);
      encodeSimpleHeaderInto(eh, this.buf, this.off);
      this.off += BLOCK;
    }
    if (body && len > 0) {
      body.copy(this.buf, this.off, 0, len);
      this.buf.fill(0, this.off + len, this.off + len + pad);
      this.off += len + pad;
    }
    const key = premadeKey(rel, t, eh.mode, eh.uid, eh.gid, eh.size, eh.mtime, eh.linkname ?? '');
    this.lines += `${key}\t${this.written + this.off}\n`;
    if (this.lines.length >= 1 << 16) this.flush(false);
  }

  /** Hands the batch to the thread pool (or, with no spare batch, writes it here) and goes on with another. */
  private flush(all: boolean): void {
    const fd = this.fd!;
    const buf = this.buf;
    const len = this.off;
    const at = this.written;
    const next = this.spare.pop();
    if (next === undefined) {
      for (let done = 0; done < len;) done += writeSync(fd, buf, done, len - done, at + done);
    } else if (len > 0) {
      this.inFlight++;
      const rest = (done: number): void =>
        write(fd, buf, done, len - done, at + done, (e, n) => {
          if (!e && done + n < len) return rest(done + n);
          if (e) this.failed = true;
          this.spare.push(buf);
          if (--this.inFlight === 0) {
            const s = this.settled;
            this.settled = undefined;
            s?.();
          }
        });
      rest(0);
      this.buf = next;
    } else this.spare.push(next);
    this.written += len;
    this.off = 0;
    if (this.lines.length >= 1 << 16 || all) {
      writeSync(this.recordsFd!, this.lines);
      this.lines = '';
    }
  }
}

/**
 * Reads the premade tar's records in order for the commit's walk (diff.ts), checking each against what the walk
 * makes, and gives the tar's checked bytes as spans.
 */
export class PremadeTarReader {
  private readonly fd: number;
  private readonly decoder = new StringDecoder('utf8');
  private readonly chunk = Buffer.allocUnsafe(1 << 18);
  private lines: string[] = [];
  private next = 0;
  private rest = '';
  private eof = false;
  private spanStart = 0;
  private spanEnd = 0;
  private checkedFile = false;
  /** `root` with a slash after it: the prefix of the subtree's paths. */
  readonly under: string;

  constructor(readonly tar: PremadeTar) {
    this.fd = openSync(tar.records, 'r');
    this.under = tar.root === '' ? '' : `${tar.root}/`;
  }

  /** Whether `rel` (relative to the upperdir) is in the subtree. */
  holds(rel: string): boolean {
    return this.under === '' || rel.startsWith(this.under);
  }

  /**
   * The xattrs are not read for each entry: every one was made by this process in a directory of its own, which
   * sets none. The directories and the first file are still asked, which catches what a system adds to every new
   * file (an SELinux label, an inherited default ACL).
   */
  needsXattrCheck(isDir: boolean): boolean {
    if (isDir) return true;
    if (this.checkedFile) return false;
    this.checkedFile = true;
    return true;
  }

  /** Ends the walk: the commit starts over without the premade tar. */
  mismatch(why: string): never {
    throw new PremadeMismatch(`the premade tar of ${this.tar.root || '/'} does not match the upperdir: ${why}`);
  }

  /** The next entry's record must be `key` (made from the upperdir); its bytes join the span. */
  check(rel: string, key: string): void {
    const line = this.line();
    const tab = line === undefined ? -1 : line.lastIndexOf('\t');
    if (line === undefined || tab < 0 || line.slice(0, tab) !== key)
      this.mismatch(`${rel} is not as the COPY wrote it`);
    const end = Number(line.slice(tab + 1));
    if (!(end > this.spanEnd && end <= this.tar.size)) this.mismatch(`${rel}'s record is damaged`);
    this.spanEnd = end;
  }

  /** Bytes checked and not yet handed on. */
  get pending(): number {
    return this.spanEnd - this.spanStart;
  }

  /** Whether to hand the checked bytes on now (enough of them for the writer's thread to take). */
  get spanFull(): boolean {
    return this.spanEnd - this.spanStart >= SPAN;
  }

  /** The checked bytes not yet handed on, as a FileBody of the tar (its own fd, which the consumer closes). */
  span(): FileBody {
    const body: FileBody = {
      fd: openSync(this.tar.path, 'r'),
      offset: this.spanStart,
      size: this.spanEnd - this.spanStart,
      path: this.tar.path,
    };
    this.spanStart = this.spanEnd;
    return body;
  }

  /** At the end of the walk: every record was met, every byte handed on. */
  done(): void {
    if (this.line() !== undefined || this.spanEnd !== this.tar.size || this.pending !== 0)
      this.mismatch('it holds entries the upperdir does not');
  }

  close(): void {
    closeSync(this.fd);
  }

  private line(): string | undefined {
    while (this.next >= this.lines.length) {
      if (this.eof) return undefined;
      const n = readSync(this.fd, this.chunk, 0, this.chunk.length, null);
      let text = this.rest + (n === 0 ? this.decoder.end() : this.decoder.write(this.chunk.subarray(0, n)));
      if (n === 0) this.eof = true;
      const cut = this.eof ? text.length : text.lastIndexOf('\n') + 1;
      this.rest = text.slice(cut);
      text = text.slice(0, cut);
      this.lines = text.split('\n');
      if (this.lines[this.lines.length - 1] === '') this.lines.pop();
      this.next = 0;
    }
    return this.lines[this.next++];
  }
}
