// Layer tar → directory. Two targets share one walker:
//  - `overlay`: a fresh directory used as an overlay lowerdir; `.wh.NAME` becomes a 0/0 character device and
//    `.wh..wh..opq` the opaque xattr (whiteouts.ts knows the spelling).
//  - `apply`: an existing plain root filesystem; whiteouts delete what lower layers put there.
// Hostile input is refused: `..` names, hardlinks out of the root, writes through a symlink the same layer placed,
// oversized headers (tar-stream's limit). Absolute names are taken relative to the root. In apply mode a symlink
// from a lower layer is resolved inside the root (securejoin), never outside it.
import * as fs from 'node:fs';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import { LayerError } from '../errors.js';
import { mknod, S_IFBLK, S_IFCHR, S_IFIFO, setXattr } from '../xattr.js';
import { entryComponents } from './paths.js';
import { isOverlayXattr, OPAQUE_XATTR, parseTarWhiteout } from './whiteouts.js';

export interface UnpackOptions {
  /** `overlay` (default): whiteouts as overlay devices/xattrs; `apply`: whiteouts delete from `dest`. */
  mode?: 'overlay' | 'apply';
  /** Named in errors. */
  digest?: string;
}

export interface UnpackStats {
  entries: number;
  bytes: number;
}

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
const XATTR_PREFIX = 'SCHILY.xattr.';

type Header = tarStream.Header & { pax?: Record<string, string> };

class Unpacker {
  private readonly knownDirs = new Set<string>(['']);
  /** Paths this layer created (apply mode: whiteouts and opaque markers spare them). */
  private readonly created = new Set<string>();
  private readonly dirTimes: [string, Date][] = [];
  private readonly fresh: boolean;
  stats: UnpackStats = { entries: 0, bytes: 0 };

  constructor(
    private readonly dest: string,
    private readonly mode: 'overlay' | 'apply',
    private readonly digest: string | undefined,
  ) {
    this.fresh = mode === 'overlay';
  }

  private err(msg: string, path: string): LayerError {
    return new LayerError(msg, { path, ...(this.digest ? { digest: this.digest } : {}) });
  }

  private abs(rel: string): string {
    return rel === '' ? this.dest : join(this.dest, rel);
  }

  /**
   * Makes sure every parent of `parts` is a real directory inside the root, creating missing ones. Returns the
   * parent's relative path (possibly rewritten when apply mode resolves a lower layer's symlink).
   */
  private parentOf(parts: string[], name: string, create = true): string {
    let cur = '';
    for (let i = 0; i < parts.length - 1; i++) {
      const next = cur === '' ? parts[i]! : `${cur}/${parts[i]}`;
      if (this.knownDirs.has(next)) {
        cur = next;
        continue;
      }
      let st: fs.Stats | undefined;
      try {
        st = fs.lstatSync(this.abs(next));
      } catch {
        st = undefined;
      }
      if (!st) {
        if (!create) throw this.err(`layer entry "${name}" refers to a missing path`, name);
        fs.mkdirSync(this.abs(next), 0o755);
        this.knownDirs.add(next);
        this.created.add(next);
        cur = next;
      } else if (st.isDirectory()) {
        this.knownDirs.add(next);
        cur = next;
      } else if (st.isSymbolicLink()) {
        if (this.mode === 'overlay' || this.created.has(next)) {
          throw this.err(`layer entry "${name}" would be written through the symlink "${next}" placed earlier`, name);
        }
        cur = this.resolveInRoot(next, name);
      } else {
        throw this.err(`layer entry "${name}": "${next}" is not a directory`, name);
      }
    }
    return cur;
  }

  /** Follows a lower layer's symlink at `rel` with the root as `/` (no escape). Returns a real directory's path. */
  private resolveInRoot(rel: string, name: string): string {
    let path = rel;
    for (let hops = 0; hops < 40; hops++) {
      const target = fs.readlinkSync(this.abs(path));
      const base = target.startsWith('/') ? '/' : posix.dirname(`/${path}`);
      const resolved = posix.normalize(posix.join(base, target)).replace(/^\/+/, '');
      const parts = resolved.split('/').filter((p) => p !== '' && p !== '.');
      // normalize() already folded `..`; a leading `..` (above /) was dropped by join from '/'.
      const real = this.parentOf([...parts, 'x'], name, true);
      const last = real;
      let st: fs.Stats | undefined;
      try {
        st = fs.lstatSync(this.abs(last));
      } catch {
        st = undefined;
      }
      if (!st) return last;
      if (st.isDirectory()) return last;
      if (!st.isSymbolicLink()) throw this.err(`layer entry "${name}": "${last}" is not a directory`, name);
      path = last;
    }
    throw this.err(`layer entry "${name}": too many levels of symlinks`, name);
  }

  /** Clears whatever is at `rel` unless it is a directory and `keepDir`. Returns true when a directory stays. */
  private clear(rel: string, keepDir: boolean): boolean {
    if (this.fresh && !this.created.has(rel)) return false;
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(this.abs(rel));
    } catch {
      return false;
    }
    if (st.isDirectory()) {
      if (keepDir) return true;
      fs.rmSync(this.abs(rel), { recursive: true, force: true });
      for (const d of this.knownDirs) if (d === rel || d.startsWith(`${rel}/`)) this.knownDirs.delete(d);
    } else {
      fs.unlinkSync(this.abs(rel));
    }
    return false;
  }

  private applyMeta(path: string, h: Header, fd?: number): void {
    const uid = h.uid ?? 0;
    const gid = h.gid ?? 0;
    const mode = (h.mode ?? 0o644) & 0o7777;
    if (fd !== undefined) {
      fs.fchownSync(fd, uid, gid);
      fs.fchmodSync(fd, mode);
    } else if (h.type === 'symlink') {
      fs.lchownSync(path, uid, gid);
    } else {
      fs.lchownSync(path, uid, gid);
      fs.chmodSync(path, mode); // after chown: chown clears setuid/setgid
    }
    if (h.pax) {
      for (const [k, v] of Object.entries(h.pax)) {
        if (!k.startsWith(XATTR_PREFIX)) continue;
        const name = k.slice(XATTR_PREFIX.length);
        if (isOverlayXattr(name)) continue;
        setXattr(path, name, Buffer.from(v, 'utf8'));
      }
    }
  }

  async entry(h: Header, body: Readable): Promise<void> {
    this.stats.entries++;
    const name = h.name;
    const parts = entryComponents(name, this.digest);
    if (parts.length === 0) {
      // the root itself ("./"): take its metadata
      if (h.type === 'directory') {
        this.applyMeta(this.dest, h);
        this.dirTimes.push([this.dest, h.mtime ?? new Date(0)]);
      }
      body.resume();
      return;
    }
    const base = parts[parts.length - 1]!;
    const wh = parseTarWhiteout(base);
    if (wh) {
      body.resume();
      return this.whiteout(parts, wh.kind === 'opaque' ? undefined : wh.name, name);
    }
    const parent = this.parentOf(parts, name);
    const rel = parent === '' ? base : `${parent}/${base}`;
    const abs = this.abs(rel);
    const mtime = h.mtime ?? new Date(0);
    switch (h.type) {
      case 'directory': {
        body.resume();
        const exists = this.clear(rel, true);
        if (!exists) fs.mkdirSync(abs, 0o700);
        this.applyMeta(abs, h);
        this.knownDirs.add(rel);
        this.dirTimes.push([abs, mtime]);
        break;
      }
      case 'file':
      case 'contiguous-file':
      case null:
      case undefined: {
        this.clear(rel, false);
        const fd = fs.openSync(abs, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
        try {
          for await (const chunk of body as AsyncIterable<Buffer>) {
            let off = 0;
            while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
            this.stats.bytes += chunk.length;
          }
          this.applyMeta(abs, h, fd);
          fs.futimesSync(fd, mtime, mtime);
        } finally {
          fs.closeSync(fd);
        }
        break;
      }
      case 'symlink': {
        body.resume();
        this.clear(rel, false);
        fs.symlinkSync(h.linkname ?? '', abs);
        this.applyMeta(abs, h);
        fs.lutimesSync(abs, mtime, mtime);
        break;
      }
      case 'link': {
        body.resume();
        const tparts = entryComponents(h.linkname ?? '', this.digest);
        if (tparts.length === 0) throw this.err(`hardlink "${name}" points at the root`, name);
        const tparent = this.parentOf(tparts, name, false);
        const tabs = this.abs(tparent === '' ? tparts[tparts.length - 1]! : `${tparent}/${tparts[tparts.length - 1]}`);
        let tst: fs.Stats;
        try {
          tst = fs.lstatSync(tabs);
        } catch {
          throw this.err(`hardlink "${name}" points at "${h.linkname}", which is not in the layer`, name);
        }
        if (tst.isDirectory()) throw this.err(`hardlink "${name}" points at a directory`, name);
        this.clear(rel, false);
        fs.linkSync(tabs, abs);
        break;
      }
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        body.resume();
        this.clear(rel, false);
        const kind = h.type === 'fifo' ? S_IFIFO : h.type === 'block-device' ? S_IFBLK : S_IFCHR;
        mknod(abs, kind | 0o600, h.devmajor ?? 0, h.devminor ?? 0);
        this.applyMeta(abs, h);
        fs.utimesSync(abs, mtime, mtime);
        break;
      }
      default:
        body.resume();
        return; // pax/gnu extensions are folded in by tar-stream; anything else carries nothing to write
    }
    this.created.add(rel);
  }

  private whiteout(parts: string[], target: string | undefined, name: string): void {
    const dirParts = parts.slice(0, -1);
    const dir = dirParts.length === 0 ? '' : this.parentOf([...dirParts, 'x'], name);
    if (target === undefined) {
      // opaque directory
      if (this.mode === 'overlay') {
        setXattr(this.abs(dir), OPAQUE_XATTR, Buffer.from('y'));
      } else {
        for (const child of fs.readdirSync(this.abs(dir))) {
          const rel = dir === '' ? child : `${dir}/${child}`;
          if (!this.created.has(rel)) this.clear(rel, false);
        }
      }
      return;
    }
    if (target === '' || target === '.' || target === '..' || target.includes('/')) throw this.err(`invalid whiteout "${name}"`, name);
    const rel = dir === '' ? target : `${dir}/${target}`;
    if (this.mode === 'overlay') {
      this.clear(rel, false);
      mknod(this.abs(rel), S_IFCHR, 0, 0);
      this.created.add(rel);
    } else if (!this.created.has(rel)) {
      this.clear(rel, false);
    }
  }

  finish(): void {
    for (let i = this.dirTimes.length - 1; i >= 0; i--) {
      const [p, t] = this.dirTimes[i]!;
      fs.utimesSync(p, t, t);
    }
  }
}

/** Unpacks an uncompressed tar stream into `dest` (which must exist). */
export async function unpackTar(src: Readable, dest: string, opts: UnpackOptions = {}): Promise<UnpackStats> {
  const u = new Unpacker(dest, opts.mode ?? 'overlay', opts.digest);
  const extract = tarStream.extract();
  src.on('error', (e) => extract.destroy(e));
  src.pipe(extract as unknown as NodeJS.WritableStream);
  try {
    for await (const entry of extract) {
      await u.entry(entry.header as Header, entry as unknown as Readable);
    }
  } catch (e) {
    src.unpipe();
    src.destroy();
    if (e instanceof LayerError) throw e;
    const msg = (e as Error).message ?? String(e);
    if (/Header exceeds max size/.test(msg)) throw new LayerError(`layer tar has an oversized header (over 4 MiB): refused`, { ...(opts.digest ? { digest: opts.digest } : {}), cause: e });
    if (/Invalid tar header|Unexpected end of data|Invalid header/i.test(msg)) throw new LayerError(`not a valid tar stream: ${msg}`, { ...(opts.digest ? { digest: opts.digest } : {}), cause: e });
    throw e;
  }
  u.finish();
  return u.stats;
}
