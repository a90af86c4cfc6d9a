// Go binaries: the module list the Go linker embeds (Go 1.18+: `.go.buildinfo`, strings inline). Only what is
// needed is read from the image: the ELF header, the section headers, the section-name table and the start of
// `.go.buildinfo` — never the whole binary. Older binaries (pointer-format build info) are not read.
import { posix } from 'node:path';
import { purl } from './purl.js';
import type { FoundPackage, ImageFile, ImageTree } from './types.js';
import type { WalkVisitor } from './walk.js';

const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
/** Bounds on what one binary may make us read (hostile headers cannot ask for more). */
const MAX_SECTION_HEADERS = 1 << 20;
const MAX_BUILDINFO = 1 << 20;

export interface GoBuildInfo {
  goVersion: string;
  path?: string;
  main?: { path: string; version: string };
  deps: { path: string; version: string }[];
}

/** Names that are never a Go executable (sources, data, docs, shared objects): their mode is not even read. */
const NOT_GO =
  /\.(?:py|pyc|js|mjs|cjs|ts|json|md|txt|html?|css|h|c|cc|hpp|rb|pl|pm|sh|mo|po|gz|xz|bz2|zst|png|svg|jpe?g|gif|ico|xml|ya?ml|conf|cfg|ini|so(?:\.\d+)*|a|o|pem|crt|list|md5sums|map)$/i;

export function goVisitor(tree: ImageTree, out: FoundPackage[]): WalkVisitor {
  return {
    stat: (name) => !NOT_GO.test(name),
    file: (f) => {
      if ((f.mode & 0o111) === 0 || f.size < 64) return;
      const info = readGoBuildInfo(tree, f.path);
      if (!info) return;
      const mods = [...(info.main ? [info.main] : []), ...info.deps];
      for (const m of mods) {
        const dir = posix.dirname(m.path);
        out.push({
          kind: 'go',
          name: m.path,
          version: m.version,
          purl: purl('golang', dir === '.' ? undefined : dir, posix.basename(m.path), m.version),
          foundIn: f.path,
          files: m === info.main ? [{ path: f.path }] : [],
        });
      }
    },
  };
}

export function readGoBuildInfo(tree: ImageTree, path: string): GoBuildInfo | undefined {
  // one open per binary: the header, the section headers, the names and the section are read through it
  const f = tree.openFile(path);
  if (!f) return undefined;
  try {
    const section = findSection(f, '.go.buildinfo');
    if (!section) return undefined;
    return parseBuildInfo(f.readAt(section.offset, Math.min(section.size, MAX_BUILDINFO)));
  } finally {
    f.close();
  }
}

/** The file offset and size of an ELF section, by name. */
function findSection(f: ImageFile, want: string): { offset: number; size: number } | undefined {
  const h = f.readAt(0, 64);
  if (h.length < 52 || h.readUInt32BE(0) !== 0x7f454c46) return undefined;
  const is64 = h[4] === 2;
  const le = h[5] === 1;
  if (is64 && h.length < 64) return undefined;
  const u16 = (b: Buffer, o: number): number => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (b: Buffer, o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const u64 = (b: Buffer, o: number): number => Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o));
  const shoff = is64 ? u64(h, 0x28) : u32(h, 0x20);
  const shentsize = u16(h, is64 ? 0x3a : 0x2e);
  const shnum = u16(h, is64 ? 0x3c : 0x30);
  const shstrndx = u16(h, is64 ? 0x3e : 0x32);
  if (shoff === 0 || shnum === 0 || shentsize < (is64 ? 64 : 40) || shstrndx >= shnum) return undefined;
  if (shentsize * shnum > MAX_SECTION_HEADERS) return undefined;
  const sh = f.readAt(shoff, shentsize * shnum);
  if (sh.length < shentsize * shnum) return undefined;
  const entry = (i: number): { name: number; offset: number; size: number } => {
    const o = i * shentsize;
    return is64
      ? { name: u32(sh, o), offset: u64(sh, o + 0x18), size: u64(sh, o + 0x20) }
      : { name: u32(sh, o), offset: u32(sh, o + 0x10), size: u32(sh, o + 0x14) };
  };
  const strtab = entry(shstrndx);
  const names = f.readAt(strtab.offset, Math.min(strtab.size, MAX_SECTION_HEADERS));
  for (let i = 0; i < shnum; i++) {
    const e = entry(i);
    const end = names.indexOf(0, e.name);
    if (end < 0) continue;
    if (names.toString('latin1', e.name, end) === want) return { offset: e.offset, size: e.size };
  }
  return undefined;
}

/** The `.go.buildinfo` blob: a 32-byte header (magic, pointer size, flags), then two varint-prefixed strings. */
export function parseBuildInfo(data: Buffer): GoBuildInfo | undefined {
  if (data.length < 32 || !data.subarray(0, 14).equals(MAGIC)) return undefined;
  // flag 2: the strings follow inline (Go 1.18+)
  if ((data[15]! & 2) === 0) return undefined;
  let pos = 32;
  const str = (): string | undefined => {
    let len = 0;
    let shift = 0;
    for (;;) {
      if (pos >= data.length || shift > 28) return undefined;
      const b = data[pos++]!;
      len |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) break;
      shift += 7;
    }
    if (pos + len > data.length) return undefined;
    const s = data.toString('utf8', pos, pos + len);
    pos += len;
    return s;
  };
  const goVersion = str();
  let mod = str();
  if (goVersion === undefined || mod === undefined) return undefined;
  // the module info is wrapped in 16-byte sentinels
  if (mod.length >= 33 && mod[mod.length - 17] === '\n') mod = mod.slice(16, -16);
  return { goVersion, ...parseModInfo(mod) };
}

/** `path`, `mod`, `dep` and `=>` (replacement of the line before) lines, tab-separated. */
export function parseModInfo(text: string): Omit<GoBuildInfo, 'goVersion'> {
  const info: Omit<GoBuildInfo, 'goVersion'> = { deps: [] };
  let last: { path: string; version: string } | undefined;
  for (const line of text.split('\n')) {
    const f = line.split('\t');
    if (f[0] === 'path' && f[1]) info.path = f[1];
    else if (f[0] === 'mod' && f[1]) last = info.main = { path: f[1], version: f[2] || '(devel)' };
    else if (f[0] === 'dep' && f[1] && f[2]) info.deps.push((last = { path: f[1], version: f[2] }));
    else if (f[0] === '=>' && f[1] && last) {
      last.path = f[1];
      last.version = f[2] || last.version;
    }
  }
  return info;
}
