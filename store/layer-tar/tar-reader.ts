// A streaming tar reader for layers: ustar/GNU/PAX headers, PAX records kept as raw bytes (xattr values are
// binary), GNU long names, checksums verified, a hard limit on extended header sizes. Entries are yielded one at a
// time; each entry's body must be consumed (or skipped) before the next is read, so memory stays bounded.
import type { Readable } from 'node:stream';
import { LayerError } from '../errors.js';

export type TarType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo' | 'other';

export interface TarEntry {
  name: string;
  type: TarType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** SCHILY.xattr.* records, values as raw bytes. */
  xattrs: [string, Buffer][];
  /** Streams the body (exactly `size` bytes); the reader skips whatever is left unread. */
  body(): AsyncGenerator<Buffer>;
}

/** Extended headers (PAX, GNU long names) larger than this are refused. */
export const MAX_EXTENDED_HEADER = 1 << 20;

class ByteReader {
  private buf: Buffer = Buffer.alloc(0);
  private done = false;
  constructor(private readonly it: AsyncIterator<Buffer>) {}

  /** Replaces the (empty) buffer with the next input chunk. */
  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const r = await this.it.next();
    if (r.done) {
      this.done = true;
      return false;
    }
    this.buf = r.value;
    return true;
  }

  /** Exactly n bytes, or fewer at end of input. Copies only when n spans input chunks. */
  async read(n: number): Promise<Buffer> {
    if (this.buf.length >= n) {
      const out = this.buf.subarray(0, n);
      this.buf = this.buf.subarray(n);
      return out;
    }
    const parts: Buffer[] = [this.buf];
    let got = this.buf.length;
    this.buf = Buffer.alloc(0);
    while (got < n && (await this.fill())) {
      const take = Math.min(n - got, this.buf.length);
      parts.push(this.buf.subarray(0, take));
      this.buf = this.buf.subarray(take);
      got += take;
    }
    return Buffer.concat(parts, got);
  }

  async *chunks(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0 && !(await this.fill()))
        throw new LayerError('layer tar ends in the middle of an entry');
      const take = Math.min(left, this.buf.length);
      const out = this.buf.subarray(0, take);
      this.buf = this.buf.subarray(take);
      left -= take;
      yield out;
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.chunks(n)) void _;
  }
}

function str(b: Buffer, off: number, len: number): string {
  const end = b.indexOf(0, off);
  return b.toString('utf8', off, end < 0 || end > off + len ? off + len : end);
}

function num(b: Buffer, off: number, len: number): number {
  if (b[off]! & 0x80) {
    // base-256 (GNU): big-endian, first byte's high bit set
    let v = b[off]! & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + b[off + i]!;
    return v;
  }
  const s = b
    .toString('ascii', off, off + len)
    .replace(/\0.*$/s, '')
    .trim();
  if (s === '') return 0;
  const v = parseInt(s, 8);
  if (!Number.isFinite(v)) throw new LayerError(`invalid number "${s}" in a tar header`);
  return v;
}

function checksumOk(b: Buffer): boolean {
  let want: number;
  try {
    want = num(b, 148, 8);
  } catch {
    return false;
  }
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : b[i]!;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  return want === unsigned || want === signed;
}

function typeOf(flag: number): TarType {
  switch (flag) {
    case 0:
    case 0x30:
    case 0x37:
      return 'file';
    case 0x31:
      return 'link';
    case 0x32:
      return 'symlink';
    case 0x33:
      return 'char';
    case 0x34:
      return 'block';
    case 0x35:
      return 'dir';
    case 0x36:
      return 'fifo';
    default:
      return 'other';
  }
}

/** Parses PAX records (`len key=value\n`) with values as bytes. */
export function parsePax(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let off = 0;
  while (off < data.length) {
    const sp = data.indexOf(0x20, off);
    if (sp < 0) break;
    const len = parseInt(data.toString('ascii', off, sp), 10);
    if (!Number.isFinite(len) || len <= 0 || off + len > data.length)
      throw new LayerError('malformed PAX header record');
    const rec = data.subarray(sp + 1, off + len - 1); // without the trailing newline
    const eq = rec.indexOf(0x3d);
    if (eq > 0) out.set(rec.toString('utf8', 0, eq), rec.subarray(eq + 1));
    off += len;
  }
  return out;
}

const pad = (n: number): number => (512 - (n % 512)) % 512;
const EMPTY: ReadonlyMap<string, Buffer> = new Map();

export async function* readTar(src: Readable | AsyncIterable<Buffer>): AsyncGenerator<TarEntry> {
  const r = new ByteReader((src as AsyncIterable<Buffer>)[Symbol.asyncIterator]());
  let global: Map<string, Buffer> = new Map();
  let pax: Map<string, Buffer> | undefined;
  let longName: string | undefined;
  let longLink: string | undefined;
  let zeroBlocks = 0;
  for (;;) {
    const h = await r.read(512);
    if (h.length === 0) return; // end of input without the end-of-archive marker: accepted, as GNU tar does
    if (h.length < 512) throw new LayerError('layer tar ends inside a header');
    if (h.every((b) => b === 0)) {
      if (++zeroBlocks === 2) {
        // drain: digests must cover the whole blob
        while ((await r.read(1 << 16)).length > 0);
        return;
      }
      continue;
    }
    zeroBlocks = 0;
    if (!checksumOk(h)) throw new LayerError('invalid tar header (checksum mismatch): not a tar layer, or corrupt');
    const flag = h[156]!;
    let size = num(h, 124, 12);
    const ext = flag === 0x78 /* x */ || flag === 0x67 /* g */ || flag === 0x4c /* L */ || flag === 0x4b; /* K */
    if (ext) {
      if (size > MAX_EXTENDED_HEADER)
        throw new LayerError(
          `layer tar has an extended header of ${size} bytes (limit ${MAX_EXTENDED_HEADER}): refused`,
        );
      const data = await r.read(size);
      if (data.length < size) throw new LayerError('layer tar ends inside an extended header');
      await r.skip(pad(size));
      if (flag === 0x78) pax = new Map([...(pax ?? []), ...parsePax(data)]);
      else if (flag === 0x67) global = new Map([...global, ...parsePax(data)]);
      else if (flag === 0x4c) longName = str(data, 0, data.length);
      else longLink = str(data, 0, data.length);
      continue;
    }
    const rec = global.size === 0 ? (pax ?? EMPTY) : new Map([...global, ...(pax ?? [])]);
    const ustar = h.toString('ascii', 257, 262) === 'ustar';
    let name = str(h, 0, 100);
    if (ustar && h[345] !== 0) name = `${str(h, 345, 155)}/${name}`;
    name = rec.get('path')?.toString('utf8') ?? longName ?? name;
    const linkname = rec.get('linkpath')?.toString('utf8') ?? longLink ?? str(h, 157, 100);
    if (rec.has('size')) size = Number(rec.get('size')!.toString('ascii'));
    const xattrs: [string, Buffer][] = [];
    for (const [k, v] of rec) if (k.startsWith('SCHILY.xattr.')) xattrs.push([k.slice('SCHILY.xattr.'.length), v]);
    const mtimeRec = rec.get('mtime');
    const entry: TarEntry = {
      name,
      type: typeOf(flag),
      mode: num(h, 100, 8),
      uid: rec.has('uid') ? Number(rec.get('uid')!.toString()) : num(h, 108, 8),
      gid: rec.has('gid') ? Number(rec.get('gid')!.toString()) : num(h, 116, 8),
      size,
      mtime: mtimeRec ? Math.floor(Number(mtimeRec.toString())) : num(h, 136, 12),
      linkname,
      devmajor: ustar ? num(h, 329, 8) : 0,
      devminor: ustar ? num(h, 337, 8) : 0,
      xattrs,
      body: async function* () {},
    };
    pax = undefined;
    longName = undefined;
    longLink = undefined;
    // only regular files have a body to write; data announced for any other entry is skipped
    const bodySize = entry.type === 'file' ? size : 0;
    let consumed = false;
    entry.body = async function* () {
      if (consumed) return;
      consumed = true;
      yield* r.chunks(bodySize);
    };
    yield entry;
    if (!consumed) {
      consumed = true;
      await r.skip(bodySize);
    }
    await r.skip(size - bodySize + pad(size));
  }
}
