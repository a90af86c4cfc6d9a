// Layer tar → directory. Two targets share one walker:
//  - `overlay`: a fresh directory used as an overlay lowerdir; `.wh.NAME` becomes a 0/0 character device and
//    `.wh..wh..opq` the opaque xattr (whiteouts.ts knows the spelling).
//  - `apply`: an existing plain root filesystem; whiteouts delete what lower layers put there.
//  - `extract`: an archive (ADD) into a directory this build is writing: what stands there is replaced, `.wh.`
//    names are plain files (as Docker's ADD), and no symlink on the way is followed, whoever placed it.
// Hostile input is refused: `..` names, hardlinks out of the root, writes through a symlink the same layer placed,
// oversized headers (tar-stream's limit). Absolute names are taken relative to the root. In apply mode a symlink
// from a lower layer is resolved inside the root (securejoin), never outside it.
// Overlay mode hands small regular files to another thread (file-writer.ts) once a layer has more than a few: this
// thread parses and makes directories, that one creates the files. Whatever touches a path later (a hardlink to it,
// an entry replacing it, a whiteout, a child under it) first waits until that thread has written it; directory
// times are set once all files are written.
import * as fs from 'node:fs';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { LayerError, StoreError } from '../errors.js';
import { makedev, mknod, S_IFBLK, S_IFCHR, S_IFIFO, setXattr } from '../xattr.js';
import { headerTreeLine as line, treeLine } from '../tree.js';
import { entryComponents } from './paths.js';
import { fileWriter, FLAG_CHMOD, FLAG_CHOWN, MAX_QUEUED_BODY, WriterError, type WriterSession } from './file-writer.js';
import { readTar, type TarEntry } from './tar-reader.js';
import { isOverlayXattr, opaqueXattr, parseTarWhiteout } from './whiteouts.js';
import type { UnpackOptions, UnpackStats } from './unpack-options.js';

export type { UnpackOptions, UnpackStats };

const UMASK = process.umask();
/** Asked once: a syscall per file otherwise. */
const AS_ROOT = process.getuid?.() === 0;
/** Root of the host (not of a user namespace): its mknod failing is an error, never a rootless limit. */
const asHostRoot = (): boolean => AS_ROOT && opaqueXattr().startsWith('trusted.');

let devicesWarned = false;
function warnDevicesSkipped(
  name: string,
  digest: string | undefined,
  why = 'in a rootless run (a user namespace cannot make them)',
): void {
  if (devicesWarned) return;
  devicesWarned = true;
  process.emitWarning(
    `device nodes in layers are skipped ${why}, first "${name}"${digest ? ` in ${digest}` : ''}; the layer itself keeps them`,
  );
}

/**
 * A chown's EINVAL: the id is not mapped in the user namespace tsbuild runs in (rootless with no subordinate ids, or
 * an id above the range); the fix is the user's (runtime/userns.ts has the same for the builder's chowns).
 */
function unmappedOwner(e: unknown, name: string, uid: number, gid: number): unknown {
  if ((e as { code?: unknown }).code !== 'EINVAL') return e;
  const user = process.env.TSBUILD_HOST_USER || '$USER';
  return new StoreError(
    `layer entry "${name}": cannot give it the owner ${uid}:${gid}: the id is not mapped in this rootless run (no subordinate ids for ${user}?)`,
    {
      path: name,
      cause: e,
      hint: `give ${user} subordinate ids, then pull or build again: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${user}`,
    },
    'ID_UNMAPPED',
  );
}

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;

class Unpacker {
  private readonly knownDirs = new Set<string>(['']);
  /** Paths this layer created (apply mode: whiteouts and opaque markers spare them). */
  private readonly created = new Set<string>();
  private readonly dirTimes: [string, number][] = [];
  private readonly fresh: boolean;
  /** rel → tree line; `restat` lists paths recorded by lstat at the end (implied dirs, hardlinks of unknowns). */
  private readonly records: Map<string, string> | undefined;
  private readonly restat = new Set<string>();
  stats: UnpackStats = { entries: 0, bytes: 0, offloaded: 0 };
  /** Overlay mode: regular files seen, and from `offloadAfter` on the file writer's session. */
  private files = 0;
  private writer: WriterSession | undefined;
  private askedWriter = false;
  /** rel → number of the writer's record that creates it: other fs calls on that path wait for it. */
  private readonly queued = new Map<string, number>();

  constructor(
    private readonly dest: string,
    private readonly mode: 'overlay' | 'apply' | 'extract',
    private readonly digest: string | undefined,
    record = false,
    private readonly offloadAfter = 32,
    writer?: WriterSession,
    private readonly plain = false,
    private readonly skipDevices = false,
  ) {
    this.fresh = mode === 'overlay';
    this.records = record ? new Map() : undefined;
    this.writer = writer;
    this.askedWriter = writer !== undefined;
  }

  /** Waits until a file the writer thread creates at `rel`, if any, exists. */
  private settle(rel: string): void {
    const n = this.queued.get(rel);
    if (n !== undefined && this.writer && !this.writer.isDone(n)) this.wait(n);
  }

  /** Waits for the writer's record `n` (default: all), naming the failing entry if the writer failed. */
  private wait(n?: number): void {
    try {
      this.writer?.waitFor(n);
    } catch (e) {
      throw this.writerFailure(e);
    }
  }

  private writerFailure(e: unknown): unknown {
    if (!(e instanceof WriterError)) return e;
    for (const [rel, n] of this.queued)
      if (n === e.job) return this.err(`cannot write layer entry "${rel}": ${e.message}`, rel);
    return this.err(`cannot write a layer entry: ${e.message}`, '');
  }

  private rec(rel: string, l: string): void {
    this.records?.set(rel, l);
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
      this.settle(next);
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
        if (this.records) this.restat.add(next);
        cur = next;
      } else if (st.isDirectory()) {
        this.knownDirs.add(next);
        cur = next;
      } else if (st.isSymbolicLink()) {
        if (this.mode !== 'apply' || this.created.has(next)) {
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
    this.settle(rel);
    let st: fs.Stats | undefined;
    try {
      st = fs.lstatSync(this.abs(rel));
    } catch {
      return false;
    }
    if (st.isDirectory()) {
      if (keepDir) return true;
      this.wait(); // files queued inside it
      fs.rmSync(this.abs(rel), { recursive: true, force: true });
      for (const d of this.knownDirs) if (d === rel || d.startsWith(`${rel}/`)) this.knownDirs.delete(d);
      if (this.records) for (const k of [...this.records.keys()]) if (k.startsWith(`${rel}/`)) this.records.delete(k);
    } else {
      fs.unlinkSync(this.abs(rel));
    }
    this.records?.delete(rel);
    return false;
  }

  private applyMeta(path: string, h: TarEntry, fd?: number): void {
    // plain: an untrusted archive read as a build context: no owners, no setuid/setgid/sticky bits, no xattrs
    const uid = this.plain ? 0 : h.uid;
    const gid = this.plain ? 0 : h.gid;
    const mode = h.mode & (this.plain ? 0o777 : 0o7777);
    if (this.plain) {
      if (fd !== undefined) fs.fchmodSync(fd, mode);
      else if (h.type !== 'symlink') fs.chmodSync(path, mode);
      return;
    }
    try {
      if (fd !== undefined) {
        // a new file is root:root with mode 0666 & ~umask already: skip the calls that would change nothing
        if (uid !== 0 || gid !== 0 || !AS_ROOT) fs.fchownSync(fd, uid, gid);
      } else {
        fs.lchownSync(path, uid, gid);
      }
    } catch (e) {
      throw unmappedOwner(e, h.name, uid, gid);
    }
    if (fd !== undefined) {
      if (mode !== (0o666 & ~UMASK) || uid !== 0 || gid !== 0) fs.fchmodSync(fd, mode);
    } else if (h.type !== 'symlink') {
      fs.chmodSync(path, mode); // after chown: chown clears setuid/setgid
    }
    for (const [name, v] of h.xattrs) {
      if (isOverlayXattr(name)) continue;
      setXattr(path, name, v);
    }
  }

  async entry(h: TarEntry): Promise<void> {
    this.stats.entries++;
    const name = h.name;
    const parts = entryComponents(name, this.digest);
    if (parts.length === 0) {
      // the root itself ("./"): take its metadata (not ADD's: the destination is the image's, or made by the step)
      if (h.type === 'dir' && this.mode !== 'extract') {
        this.applyMeta(this.dest, h);
        this.dirTimes.push([this.dest, h.mtime]);
      }
      return;
    }
    const base = parts[parts.length - 1]!;
    const wh = this.mode === 'extract' ? undefined : parseTarWhiteout(base);
    if (wh) {
      return this.whiteout(parts, wh.kind === 'opaque' ? undefined : wh.name, name, h.mtime);
    }
    const parent = this.parentOf(parts, name);
    const rel = parent === '' ? base : `${parent}/${base}`;
    const abs = this.abs(rel);
    const mtime = h.mtime; // seconds: the fs calls take numbers, no Date per entry
    switch (h.type) {
      case 'dir': {
        const exists = this.clear(rel, true);
        if (!exists) fs.mkdirSync(abs, 0o700);
        this.applyMeta(abs, h);
        this.knownDirs.add(rel);
        this.rec(rel, line(rel, 'd', h.mode, h.uid, h.gid, 0, 0, 0, ''));
        this.restat.delete(rel);
        this.dirTimes.push([abs, mtime]);
        break;
      }
      case 'file': {
        this.clear(rel, false);
        if (this.fresh && (await this.offload(h, abs))) {
          this.queued.set(rel, this.writer!.jobs);
          this.rec(rel, line(rel, 'f', h.mode, h.uid, h.gid, h.size, 0, h.mtime * 1000, ''));
          break;
        }
        const fd = fs.openSync(abs, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o666);
        try {
          for await (const chunk of h.body()) {
            let off = 0;
            while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
            this.stats.bytes += chunk.length;
          }
          this.applyMeta(abs, h, fd);
          fs.futimesSync(fd, mtime, mtime);
        } finally {
          fs.closeSync(fd);
        }
        this.rec(rel, line(rel, 'f', h.mode, h.uid, h.gid, h.size, 0, h.mtime * 1000, ''));
        break;
      }
      case 'symlink': {
        this.clear(rel, false);
        fs.symlinkSync(h.linkname, abs);
        this.applyMeta(abs, h);
        fs.lutimesSync(abs, mtime, mtime);
        this.rec(
          rel,
          line(rel, 'l', 0o777, h.uid, h.gid, Buffer.byteLength(h.linkname), 0, h.mtime * 1000, h.linkname),
        );
        break;
      }
      case 'link': {
        const tparts = entryComponents(h.linkname, this.digest);
        if (tparts.length === 0) throw this.err(`hardlink "${name}" points at the root`, name);
        const tparent = this.parentOf(tparts, name, false);
        const trel = tparent === '' ? tparts[tparts.length - 1]! : `${tparent}/${tparts[tparts.length - 1]}`;
        const tabs = this.abs(trel);
        this.settle(trel);
        let tst: fs.Stats;
        try {
          tst = fs.lstatSync(tabs);
        } catch {
          throw this.err(`hardlink "${name}" points at "${h.linkname}", which is not in the layer`, name);
        }
        if (tst.isDirectory()) throw this.err(`hardlink "${name}" points at a directory`, name);
        this.clear(rel, false);
        fs.linkSync(tabs, abs);
        if (this.records) {
          const tl = this.records.get(trel);
          if (tl !== undefined) this.rec(rel, rel + tl.slice(trel.length));
          else this.restat.add(rel);
        }
        break;
      }
      case 'char':
      case 'block':
      case 'fifo': {
        if (this.plain) throw this.err(`"${name}" is a device or fifo, which a build context may not hold`, name);
        if (this.skipDevices && h.type !== 'fifo') {
          this.stats.devicesSkipped = (this.stats.devicesSkipped ?? 0) + 1;
          warnDevicesSkipped(name, this.digest, 'with copy snapshots (no nodev mount would contain them)');
          break;
        }
        this.clear(rel, false);
        const kind = h.type === 'fifo' ? S_IFIFO : h.type === 'block' ? S_IFBLK : S_IFCHR;
        try {
          mknod(abs, kind | 0o600, h.devmajor, h.devminor);
        } catch (e) {
          // rootless: a user namespace cannot make device nodes; skipped as rootless podman does, and said once
          if (h.type === 'fifo' || (e as { code?: unknown }).code !== 'EPERM' || asHostRoot()) throw e;
          this.stats.devicesSkipped = (this.stats.devicesSkipped ?? 0) + 1;
          warnDevicesSkipped(name, this.digest);
          break;
        }
        this.applyMeta(abs, h);
        fs.utimesSync(abs, mtime, mtime);
        this.rec(
          rel,
          line(
            rel,
            h.type === 'fifo' ? 'p' : h.type === 'block' ? 'b' : 'c',
            h.mode,
            h.uid,
            h.gid,
            0,
            h.type === 'fifo' ? 0 : Number(makedev(h.devmajor, h.devminor)),
            h.mtime * 1000,
            '',
          ),
        );
        break;
      }
      default:
        return; // volume labels, old GNU sparse files and the like carry nothing we write
    }
    this.created.add(rel);
  }

  private whiteout(parts: string[], target: string | undefined, name: string, mtime: number): void {
    const dirParts = parts.slice(0, -1);
    const dir = dirParts.length === 0 ? '' : this.parentOf([...dirParts, 'x'], name);
    if (target === undefined) {
      // opaque directory
      if (this.mode === 'overlay') {
        setXattr(this.abs(dir), opaqueXattr(), Buffer.from('y'));
      } else {
        for (const child of fs.readdirSync(this.abs(dir))) {
          const rel = dir === '' ? child : `${dir}/${child}`;
          if (!this.created.has(rel)) this.clear(rel, false);
        }
      }
      return;
    }
    if (target === '' || target === '.' || target === '..' || target.includes('/'))
      throw this.err(`invalid whiteout "${name}"`, name);
    const rel = dir === '' ? target : `${dir}/${target}`;
    if (this.mode === 'overlay') {
      this.clear(rel, false);
      mknod(this.abs(rel), S_IFCHR, 0, 0);
      fs.lutimesSync(this.abs(rel), mtime, mtime);
      this.created.add(rel);
      this.rec(rel, line(rel, 'c', 0, 0, 0, 0, 0, mtime * 1000, ''));
    } else if (!this.created.has(rel)) {
      this.clear(rel, false);
    }
  }

  /**
   * Queues a regular file for the writer thread when this unpack uses it and the ring has room; copies the body.
   * False: the caller writes it (nothing was consumed).
   */
  private async offload(h: TarEntry, abs: string): Promise<boolean> {
    if (++this.files <= this.offloadAfter || h.size > MAX_QUEUED_BODY) return false;
    if (!this.writer) {
      if (this.askedWriter) return false; // another unpack had it
      this.askedWriter = true;
      this.writer = fileWriter().begin();
      if (!this.writer) return false;
    }
    for (const [name] of h.xattrs) if (!isOverlayXattr(name)) return false; // set by path, after creation: here
    const w = this.writer;
    let at: number;
    try {
      at = w.reserve(abs, h.size);
    } catch (e) {
      throw this.writerFailure(e);
    }
    if (at < 0) return false;
    for await (const chunk of h.body()) {
      chunk.copy(w.ring, at);
      at += chunk.length;
      this.stats.bytes += chunk.length;
    }
    const uid = h.uid;
    const gid = h.gid;
    const mode = h.mode & 0o7777;
    // as applyMeta: a new file is root:root with mode 0666 & ~umask already
    const flags =
      (uid !== 0 || gid !== 0 || !AS_ROOT ? FLAG_CHOWN : 0) |
      (mode !== (0o666 & ~UMASK) || uid !== 0 || gid !== 0 ? FLAG_CHMOD : 0);
    w.commit(flags, mode, uid, gid, h.mtime);
    this.stats.offloaded++;
    return true;
  }

  /** Stops the writer thread's session at once (a failed unpack). */
  async abort(): Promise<void> {
    await this.writer?.abort().catch(() => undefined);
  }

  async finish(): Promise<void> {
    if (this.writer) {
      try {
        await this.writer.end();
      } catch (e) {
        throw this.writerFailure(e);
      }
    }
    for (let i = this.dirTimes.length - 1; i >= 0; i--) {
      const [p, t] = this.dirTimes[i]!;
      fs.utimesSync(p, t, t);
    }
    if (this.records) {
      for (const rel of this.restat) {
        const abs = this.abs(rel);
        const st = fs.lstatSync(abs, { throwIfNoEntry: false });
        if (st) this.records.set(rel, treeLine(rel, st, st.isSymbolicLink() ? fs.readlinkSync(abs) : ''));
      }
      this.stats.tree = [...this.records.values()].sort();
    }
  }
}

/** Unpacks an uncompressed tar stream into `dest` (which must exist). */
export async function unpackTar(
  src: Readable | AsyncIterable<Buffer>,
  dest: string,
  opts: UnpackOptions = {},
): Promise<UnpackStats> {
  const u = new Unpacker(
    dest,
    opts.mode ?? 'overlay',
    opts.digest,
    opts.record,
    opts.offloadAfter,
    opts.writer,
    opts.plain,
    opts.skipDevices,
  );
  try {
    for await (const entry of readTar(src)) await u.entry(entry);
    await u.finish();
  } catch (e) {
    // no file is written after this returns
    await u.abort();
    if (typeof (src as Readable).destroy === 'function') (src as Readable).destroy();
    if (e instanceof LayerError) {
      if (opts.digest && !e.info.digest) throw new LayerError(e.message, { ...e.info, digest: opts.digest });
      throw e;
    }
    throw e;
  }
  return u.stats;
}
