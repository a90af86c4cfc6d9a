// Tar headers as the diff writes them: ustar blocks, with a PAX extended header ahead of any entry whose name,
// link target, size or ids do not fit, or that carries xattrs (SCHILY.xattr.*, values as raw bytes).
export type EntryType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

const TYPEFLAG: Record<EntryType, number> = {
  file: 0x30,
  link: 0x31,
  symlink: 0x32,
  char: 0x33,
  block: 0x34,
  dir: 0x35,
  fifo: 0x36,
};

export interface TarEntryHeader {
  name: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: [string, Buffer][];
}

export const BLOCK = 512;
const USTAR_MAGIC = Buffer.from('ustar\x0000', 'latin1');
export const END_OF_ARCHIVE = Buffer.alloc(BLOCK * 2);

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7e) return false;
  return true;
}

/**
 * `value` as width-1 zero-padded octal digits and a NUL; false (nothing written) when it does not fit. Digit by
 * digit: a commit writes a header per file, and toString(8) + padStart + write cost several times this.
 */
function writeOctal(buf: Buffer, off: number, width: number, value: number): boolean {
  let v = Math.floor(value);
  if (v >= 8 ** (width - 1)) return false;
  for (let i = off + width - 2; i >= off; i--) {
    buf[i] = 0x30 + (v % 8);
    v = Math.floor(v / 8);
  }
  buf[off + width - 1] = 0;
  return true;
}

function paxRecord(key: string, value: Buffer): Buffer {
  const rest = Buffer.byteLength(key) + value.length + 3; // ' ' '=' '\n'
  let len = rest + String(rest).length;
  if (String(len).length !== String(rest).length) len = rest + String(len).length;
  return Buffer.concat([Buffer.from(`${len} ${key}=`), value, Buffer.from('\n')]);
}

function ustar(
  name: string,
  type: number,
  h: {
    mode: number;
    uid: number;
    gid: number;
    size: number;
    mtime: number;
    linkname?: string;
    devmajor?: number;
    devminor?: number;
  },
  into?: Buffer,
): Buffer {
  const b = into ?? Buffer.alloc(BLOCK);
  if (into) b.fill(0, 0, BLOCK);
  b.write(name, 0, 100, isAscii(name) ? 'latin1' : 'utf8');
  writeOctal(b, 100, 8, h.mode & 0o7777);
  writeOctal(b, 108, 8, h.uid);
  writeOctal(b, 116, 8, h.gid);
  writeOctal(b, 124, 12, h.size);
  writeOctal(b, 136, 12, Math.max(0, h.mtime));
  b.fill(0x20, 148, 156);
  b[156] = type;
  if (h.linkname) b.write(h.linkname, 157, 100, 'utf8');
  USTAR_MAGIC.copy(b, 257);
  writeOctal(b, 329, 8, h.devmajor ?? 0);
  writeOctal(b, 337, 8, h.devminor ?? 0);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  for (let i = 153; i >= 148; i--) {
    b[i] = 0x30 + (sum % 8);
    sum = Math.floor(sum / 8);
  }
  b[154] = 0;
  b[155] = 0x20;
  return b;
}

function padding(n: number): number {
  return (BLOCK - (n % BLOCK)) % BLOCK;
}

/**
 * Writes the header of an entry that needs no PAX record straight into `target` at `off` and returns true;
 * returns false (writing nothing) when it needs PAX — use encodeHeader then.
 */
export function encodeSimpleHeaderInto(h: TarEntryHeader, target: Buffer, off: number): boolean {
  if (!fitsSimple(h)) return false;
  ustar(h.name, TYPEFLAG[h.type], h, target.subarray(off, off + BLOCK));
  return true;
}

function fitsSimple(h: TarEntryHeader): boolean {
  if ((h.xattrs && h.xattrs.length > 0) || h.size > 0o77777777777 || h.uid > 0o7777777 || h.gid > 0o7777777)
    return false;
  return !(
    h.name.length > 100 ||
    !isAscii(h.name) ||
    (h.linkname && (h.linkname.length > 100 || !isAscii(h.linkname)))
  );
}

/**
 * The one rule for an entry's header in a layer tar (the commit's diff and the COPY's premade tar share it):
 * undefined when it is one plain ustar block, to write with encodeSimpleHeaderInto where it goes (no allocation:
 * the same bytes encodeHeader would make); otherwise its blocks.
 */
export function headerBlocks(h: TarEntryHeader): Buffer | undefined {
  return fitsSimple(h) ? undefined : encodeHeader(h);
}

/** The header block(s) for one entry (a PAX header first when needed). */
export function encodeHeader(h: TarEntryHeader): Buffer {
  const records: Buffer[] = [];
  const nameFits = isAscii(h.name) && Buffer.byteLength(h.name) <= 100;
  if (!nameFits) records.push(paxRecord('path', Buffer.from(h.name)));
  const link = h.linkname ?? '';
  const linkFits = isAscii(link) && Buffer.byteLength(link) <= 100;
  if (!linkFits) records.push(paxRecord('linkpath', Buffer.from(link)));
  if (h.size > 0o77777777777) records.push(paxRecord('size', Buffer.from(String(h.size))));
  if (h.uid > 0o7777777) records.push(paxRecord('uid', Buffer.from(String(h.uid))));
  if (h.gid > 0o7777777) records.push(paxRecord('gid', Buffer.from(String(h.gid))));
  for (const [k, v] of h.xattrs ?? []) records.push(paxRecord(`SCHILY.xattr.${k}`, v));
  const main = ustar(nameFits ? h.name : h.name.slice(-100).replace(/[^\x20-\x7e]/g, '_'), TYPEFLAG[h.type], {
    ...h,
    size: h.size > 0o77777777777 ? 0 : h.size,
    uid: h.uid > 0o7777777 ? 0 : h.uid,
    gid: h.gid > 0o7777777 ? 0 : h.gid,
    linkname: linkFits ? link : '',
  });
  if (records.length === 0) return main;
  const data = Buffer.concat(records);
  const base = h.name.replace(/\/$/, '').split('/').pop() ?? '';
  const paxName = `PaxHeaders.0/${base}`.slice(0, 100).replace(/[^\x20-\x7e]/g, '_');
  const pax = ustar(paxName, 0x78, { mode: 0o644, uid: 0, gid: 0, size: data.length, mtime: Math.max(0, h.mtime) });
  return Buffer.concat([pax, data, Buffer.alloc(padding(data.length)), main]);
}

export function paddingFor(size: number): Buffer {
  return Buffer.alloc(padding(size));
}
