// COPY and ADD: sources from the context, another stage or an image, heredocs and (ADD) URLs and local archives,
// written straight into a fresh upperdir and committed — no container. Docker's rules: a directory source copies
// its contents; several sources (or a wildcard matching several) need a directory destination ending in `/`; a
// single file goes to DEST/name when DEST ends in `/` or is an existing directory; relative DEST is under WORKDIR.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { Digest } from '../../oci/index.js';
import type { CopyInstruction } from '../../parser/index.js';
import { explainChown, O } from '../../runtime/index.js';
import { closeFd, openIn, openRoot, type RootDir } from '../../runtime/index.js';
import { PremadeTarWriter, type PremadeTar } from '../../store/index.js';
import { inputsFile, loadInputs } from '../reasons.js';
import { join, posix } from 'node:path';
import { extractArchive } from './archive.js';
import { BuildContext, EntriesDigest, sha256Hex, type ContextEntry, type EntryStat } from '../context.js';
import { expand } from '../expand.js';
import { FlagError } from '../flags.js';
import { isGitSource } from '../git-url.js';
import { addGitSource, type GitItem } from '../sources/git-add.js';
import { copyCreatedBy } from '../image-config.js';
import { findStage } from '../plan.js';
import { secureResolve } from '../fsutil.js';
import { resolveOwner } from '../users.js';
import { imageLayers, openLayersView, type LayersSource, type RootfsView } from '../view.js';
import { cachedStep, commitDirs, imageLowerdirs, lowerdirsOf, PartsAfterRun } from './common.js';
import { FilesSpool } from './files-spool.js';
import {
  excluder,
  fetchUrl,
  gatherLocal,
  hashLocal,
  isUrl,
  SourceError,
  type LocalChild,
  type LocalItem,
  type SourceItem,
} from './sources.js';
import { stageVars, type StepCtx } from './types.js';
import { SMALL_COPY_MAX, UpperWriter, type Owner } from './upper.js';

/** Where sources come from: the context, or a stage/image rootfs opened on demand. */
type Origin =
  /** The build context, or a `--build-context` file tree (`named`: its key). */
  | { kind: 'context'; ctx: BuildContext; named?: string }
  | ({ kind: 'stage'; stage: number; key: string } & LayersSource)
  | ({ kind: 'image'; ref: string; digest: string } & LayersSource);

export async function copyStep(sc: StepCtx<CopyInstruction>): Promise<boolean> {
  const { ins, env, state } = sc;
  const isAdd = ins.keyword === 'ADD';
  const vars = stageVars(state);
  const esc = env.plan.escapeToken;
  // one word each, as BuildKit's SingleWordExpander; a heredoc marker stays as written
  const srcs = ins.sources.map((s) => (s.kind === 'heredoc' ? s.word : expand(s.word, vars, esc)));
  const destWord = expand(ins.dest, vars, esc);
  const cfg = state.config.config;
  const destIsDir = destWord.endsWith('/') || destWord === '.' || destWord.endsWith('/.');
  const dest = posix.normalize(posix.isAbsolute(destWord) ? destWord : posix.join(cfg.WorkingDir || '/', destWord));
  const chown = ins.chown !== undefined ? expand(ins.chown, vars, esc) : undefined;
  const chmodWord = ins.chmod !== undefined ? expand(ins.chmod, vars, esc) : undefined;
  if (chmodWord !== undefined && !/^[0-7]{3,4}$/.test(chmodWord))
    throw new FlagError(`invalid --chmod "${chmodWord}": an octal mode is expected`, ins.range.line);
  const chmod = chmodWord !== undefined ? parseInt(chmodWord, 8) : undefined;
  const parents = ins.parents;
  const excludes = ins.exclude.map((e) => expand(e, vars, esc));
  const exclude = await excluder(excludes);
  const fromWord = ins.from !== undefined ? expand(ins.from, vars, esc) : undefined;

  const gitSource = isAdd ? checkAddSources(sc, srcs) : false;
  const origin = await originOf(sc, fromWord);
  const items: SourceItem[] = [];
  const keyParts: unknown[] = [
    ins.keyword,
    srcs,
    destWord,
    dest,
    chown ?? null,
    chmodWord ?? null,
    parents,
    excludes,
    ins.link,
  ];
  let multi = srcs.length > 1 || destIsDir;
  const files: Record<string, string> = {};
  // the context's per-file inputs, on disk until a miss needs them (files-spool.ts)
  let spool: FilesSpool | undefined;
  let git: GitItem | undefined;
  let gatherLater: BuildContext | undefined;
  try {
    const localSrcs: string[] = [];
    for (const [i, source] of ins.sources.entries()) {
      const s = srcs[i]!;
      if (source.kind === 'heredoc') {
        const { name } = source.heredoc;
        const content = source.heredoc.expand ? expand(source.heredoc.content, vars, esc) : source.heredoc.content;
        items.push({ kind: 'heredoc', name, content });
        keyParts.push(['heredoc', name, content]);
      } else if (gitSource) {
        // the ref is resolved now (ls-remote: no objects), so an unchanged commit is a cache hit without a fetch
        git = await addGitSource(sc, s);
        keyParts.push(git.key);
      } else if (isAdd && isUrl(s) && origin.kind === 'context') {
        const u = await fetchUrl(s, env.tmpDir, ins.checksum, env.signal);
        items.push(u);
        keyParts.push(['url', s, u.sha256]);
      } else localSrcs.push(s);
    }
    /** Context sources walked but not hashed yet: hashed before the lookup, or as they are copied. */
    let toHash: { ctx: BuildContext; items: LocalItem[]; spool: FilesSpool; memoParts: unknown[] } | undefined;
    if (origin.kind === 'context' && localSrcs.length > 0) {
      // a context that never changes (a Git checkout) remembers the hash per source list: the walk waits for a miss
      const memoParts = [origin.named ?? null, localSrcs, excludes, parents];
      const hash = await origin.ctx.knownHash(memoParts);
      if (hash !== undefined) {
        gatherLater = origin.ctx;
        keyParts.push(contextPart(origin, hash));
      } else {
        const g = await gatherLocal(origin.ctx, localSrcs, { ...(exclude ? { exclude } : {}), parents });
        multi ||= g.multi;
        items.push(...g.items);
        spool = FilesSpool.create(join(env.tmpDir, 'copy-inputs'));
        toHash = { ctx: origin.ctx, items: g.items, spool, memoParts };
      }
    } else if (origin.kind !== 'context') {
      keyParts.push([origin.kind, origin.kind === 'stage' ? origin.key : origin.digest, localSrcs]);
    }
    // History in BuildKit's form (no --from); the step's own record names every flag, so a layer made with other
    // flags is never taken for this one's (previousLayer).
    const createdBy = copyCreatedBy(
      ins.keyword,
      { parents, chown, chmod: chmodWord },
      srcs.filter((_, i) => ins.sources[i]!.kind !== 'heredoc'),
      ins.sources.flatMap((s) => (s.kind === 'heredoc' ? [s.heredoc.name] : [])),
      destWord,
    );
    const instruction = `${ins.keyword} ${flagText(fromWord, chown, chmodWord, parents)}${[...srcs, destWord].join(' ')} # buildkit`;
    // A step that will run whatever its key hashes its sources as it copies them (each file read once); any other
    // hashes them first, for the lookup.
    let digest: EntriesDigest | undefined;
    let hashed: (() => Promise<void>) | undefined;
    let parts: unknown = keyParts;
    if (toHash && origin.kind === 'context') {
      const { ctx, spool: sp, memoParts } = toHash;
      if (await runsAnyway(sc, instruction)) {
        const d = (digest = new EntriesDigest(COPY_HASH_WINDOW, (rel, v) => sp.add(rel, v)));
        let hash: string | undefined;
        parts = new PartsAfterRun(() => [...keyParts, contextPart(origin, hash!)]);
        // once the copy has given every entry to the digest, in the walk's order
        hashed = async () => {
          hash = await d.digest();
          sp.finish();
          ctx.rememberHash(memoParts, hash);
        };
      } else {
        let hash: string;
        try {
          hash = await hashLocal(ctx, toHash.items, (rel, v) => sp.add(rel, v));
        } finally {
          sp.finish();
        }
        ctx.rememberHash(memoParts, hash);
        keyParts.push(contextPart(origin, hash));
      }
    }
    return await cachedStep(
      sc,
      parts,
      createdBy,
      async () => {
        const dirs = await env.store.containerDirs();
        const here = { layers: state.layers, lowerdirs: () => lowerdirsOf(sc) };
        const view = await openLayersView(env, here).catch(async (e) => {
          await dirs.release();
          throw e;
        });
        let srcView: RootfsView | undefined;
        let keyed: Promise<void> | undefined;
        let srcCtx = origin.kind === 'context' ? origin.ctx : env.context;
        let w: UpperWriter | undefined;
        let reuse: Reuse | undefined;
        let owner: { uid: number; gid: number } | undefined;
        let put: PutOpts | undefined;
        let premade: PremadeTar | undefined;
        try {
          w = new UpperWriter(view.dir, dirs.upperdir);
          owner = chown !== undefined ? await resolveOwner(chown, view.dir) : undefined;
          if (git) {
            // ADD of a repository: the checkout's contents (its subdir) into DEST
            srcCtx = await BuildContext.openDir(await git.fetch(), { noIgnore: true, immutable: true });
            items.push(
              ...(await gatherLocal(srcCtx, ['/'], { ...(exclude ? { exclude } : {}), parents: false })).items,
            );
          }
          if (origin.kind !== 'context' && localSrcs.length > 0) {
            srcView = await openLayersView(env, origin);
            srcCtx = await BuildContext.openDir(srcView.dir, { noIgnore: true });
            const g = await gatherLocal(srcCtx, localSrcs, { ...(exclude ? { exclude } : {}), parents });
            multi ||= g.multi;
            items.push(...g.items);
          }
          if (gatherLater) {
            const g = await gatherLocal(gatherLater, localSrcs, { ...(exclude ? { exclude } : {}), parents });
            multi ||= g.multi;
            items.push(...g.items);
          }
          multi ||= items.length > 1;
          const preserveOwner = origin.kind !== 'context';
          put = {
            w,
            srcCtx,
            owner,
            chmod,
            preserveOwner,
            isAdd: isAdd && origin.kind === 'context' && !git,
            ...(digest ? { digest } : {}),
            now: env.sourceDateEpoch !== undefined ? new Date(env.sourceDateEpoch * 1000) : new Date(),
          };
          if (origin.kind === 'context' && origin.named === undefined && !git) {
            reuse = await previousLayer(sc, instruction, () => (spool ? spool.load() : Promise.resolve(files)));
            if (reuse) put.reuse = reuse;
          }
          const destExistsAsDir = (await w.viewStat(await secureDest(w, dest)))?.isDirectory() ?? false;
          // one directory's tree: its layer tar is written as it is copied, for the commit to check and take
          const one = items.length === 1 ? items[0] : undefined;
          if (one?.kind === 'local' && one.entry.type === 'dir' && !reuse)
            put.premade = { path: join(dirs.scratch, 'premade.tar'), sourceDateEpoch: env.sourceDateEpoch };
          for (const it of items) {
            if (it.kind === 'local' && it.entry.type === 'dir') {
              const target = parents && it.name ? posix.join(dest, it.name) : dest;
              await digest?.add(it.name, it.entry);
              await putDir(put, it, target);
            } else if (
              put.isAdd &&
              it.kind === 'local' &&
              it.entry.type === 'file' &&
              isArchive(srcCtx, it.entry.rel)
            ) {
              // ADD of a local archive: its contents go into DEST (a directory).
              await digest?.add(it.name, it.entry, srcCtx.fileHash(it.entry));
              await extract(put, it.entry.rel, dest);
            } else {
              const target = multi || destIsDir || destExistsAsDir ? posix.join(dest, it.name) : dest;
              const beside = it.kind === 'local' ? hashBeside(put, it.entry) : undefined;
              const seen = await putOne(put, it, target);
              if (it.kind === 'local') await digest?.add(it.name, it.entry, contentHash(put, it.entry, seen, beside));
            }
          }
          // the key's last hashes (a large file's, read beside its copy) come in while the layer commits
          keyed = hashed?.();
          keyed?.catch(() => undefined); // awaited after the commit
          await w.finish();
          premade = await put?.tar?.finish();
        } catch (e) {
          // files still being read for the digest close before the error goes up
          await digest?.settled();
          await w?.abort();
          await dirs.release();
          // rootless with only the user's own id mapped: a --chown (or a preserved owner) to another id cannot be
          throw explainChown(e, dest, owner?.uid, owner?.gid);
        } finally {
          put?.tar?.abandon();
          w?.close();
          reuse?.root.close();
          // the checkout of an ADD of Git, or a stage's/image's view, was opened here (a named context was not)
          if ((git !== undefined || origin.kind !== 'context') && srcCtx !== env.context) await srcCtx.close();
          await srcView?.close();
          await view.close();
        }
        const outcome = await commitDirs(sc, dirs, premade);
        await keyed;
        return outcome;
      },
      { instruction, ...(spool ? { filesSpool: spool } : { files }) },
    );
  } finally {
    spool?.finish();
    for (const it of items) if (it.kind === 'url') await it.cleanup();
  }
}

/** The key's part for context sources with the digest `hash`. */
function contextPart(origin: Origin & { kind: 'context' }, hash: string): unknown[] {
  return ['context', ...(origin.named !== undefined ? [origin.named] : []), hash];
}

/**
 * Whether this COPY runs whatever its key turns out to be, so that it can hash its sources as it copies them: its
 * stage missed already, or the store holds no record a lookup could find (a fresh CI store, no --cache-from). Not
 * when another platform of the build could share the step by its key, nor when a previous run's layer would lend
 * unchanged files (that needs every file's hash before the copy).
 */
async function runsAnyway(sc: StepCtx, instruction: string): Promise<boolean> {
  const { env, state } = sc;
  if (env.platformLabel !== undefined) return false;
  if (!state.missed && !(await env.store.cache.holdsNone())) return false;
  return (await previousRun(sc, instruction)) === undefined;
}

/** Files whose hashes may wait for their copies, as the digest takes them in order. */
const COPY_HASH_WINDOW = 1024;

/**
 * A copied file's content hash: from the bytes the copy read (`seen`), else the one read beside the copy, else read
 * for it now (the memo first).
 */
async function contentHash(
  p: PutOpts,
  e: ContextEntry,
  seen: string | undefined,
  beside: Promise<string> | undefined,
): Promise<string> {
  if (e.type !== 'file') return '';
  if (seen === undefined) return beside ?? p.srcCtx.fileHash(e);
  p.srcCtx.noteHash(e, seen);
  return seen;
}

/**
 * The hash of a file the copy will not read on this thread (larger than a small copy: the kernel copies it), read
 * at the same time as the copy, on the thread pool; for a step that hashes as it copies.
 */
function hashBeside(p: PutOpts, e: ContextEntry): Promise<string> | undefined {
  if (!p.digest || e.type !== 'file' || e.stat.size <= SMALL_COPY_MAX) return undefined;
  const h = p.srcCtx.fileHash(e);
  h.catch(() => undefined); // taken by contentHash; a failed copy leaves it unread
  return h;
}

/**
 * ADD's source rules that need the expanded words, before anything is fetched: a Git repository is the one source
 * of its ADD, `--keep-git-dir` needs one, and `--checksum` takes one HTTP(S) or Git source, as in BuildKit (its
 * messages). True when the source is a Git repository.
 */
function checkAddSources(sc: StepCtx<CopyInstruction>, srcs: string[]): boolean {
  const { ins } = sc;
  const line = ins.range.line;
  const gits = srcs.filter((s, i) => ins.sources[i]!.kind === 'path' && isGitSource(s));
  if (gits.length > 0 && srcs.length > 1)
    throw new FlagError(`ADD ${gits[0]}: a Git repository must be the only source of its ADD`, line);
  if (gits.length === 0 && ins.keepGitDir) throw new FlagError('keep-git-dir requires a Git source', line);
  if (gits.length > 0) return true;
  if (ins.checksum === undefined) return false;
  if (srcs.length !== 1) throw new FlagError("checksum can't be specified for multiple sources", line);
  if (ins.sources[0]!.kind !== 'path' || !isUrl(srcs[0]!))
    throw new FlagError('checksum requires HTTP(S) or Git sources', line);
  return false;
}

function flagText(
  from: string | undefined,
  chown: string | undefined,
  chmod: string | undefined,
  parents: boolean,
): string {
  return [
    from ? `--from=${from}` : '',
    chown ? `--chown=${chown}` : '',
    chmod ? `--chmod=${chmod}` : '',
    parents ? '--parents' : '',
  ]
    .filter(Boolean)
    .map((f) => `${f} `)
    .join('');
}

/** A destination path resolved through the image's symlinks (never leaving its root). */
function secureDest(w: UpperWriter, dest: string): Promise<string> {
  return secureResolve(w.view, dest);
}

async function originOf(sc: StepCtx<CopyInstruction>, from: string | undefined): Promise<Origin> {
  const { env, state } = sc;
  if (from === undefined) return { kind: 'context', ctx: env.context };
  const idx = findStage(env.plan.stages, from, state.plan.index);
  if (idx !== undefined) {
    const st = await env.stage(idx);
    return {
      kind: 'stage',
      stage: idx,
      key: st.key,
      layers: st.layers,
      lowerdirs: () => lowerdirsOf({ env, state: st }),
    };
  }
  // a --build-context of that name comes before an image of that name
  const named = env.named?.get(from);
  if (named?.kind === 'context') return { kind: 'context', ctx: await named.context, named: named.name };
  const img = named ? (await named.image(env.plan.targetPlatform)).record : await env.resolveImage(from);
  if (named) await env.baseImagesStored();
  return {
    kind: 'image',
    ref: from,
    digest: img.manifestDigest,
    layers: imageLayers(img),
    lowerdirs: () => imageLowerdirs(env, img),
  };
}

/**
 * When this COPY ran before with the same instruction, files whose content hash, mode, owner and mtime are unchanged
 * are hard-linked from that run's layer instead of copied (layer directories are immutable): a one-file change in
 * a large context then costs one copy, not thousands. Not with SOURCE_DATE_EPOCH (the commit clamps times in place).
 */
async function previousLayer(
  sc: StepCtx,
  instruction: string,
  /** This run's per-file inputs, read only when there is a previous run to compare with. */
  filesNow: () => Promise<Record<string, string>>,
): Promise<Reuse | undefined> {
  const prev = await previousRun(sc, instruction);
  if (!prev) return undefined;
  const files = await filesNow();
  return { root: openRoot(prev.dir), same: (rel) => prev.files[rel] !== undefined && prev.files[rel] === files[rel] };
}

/** The layer directory and per-file inputs of this COPY's previous run, when it had the same instruction. */
async function previousRun(
  sc: StepCtx,
  instruction: string,
): Promise<{ dir: string; files: Record<string, string> } | undefined> {
  const { env, state } = sc;
  if (env.sourceDateEpoch !== undefined || state.noCache) return undefined;
  state.lastInputs ??= loadInputs(inputsFile(env.store.root, env.plan.file, state.plan.displayName));
  const prev = (await state.lastInputs)?.[sc.step.index];
  if (!prev?.layer || prev.instruction !== instruction || !prev.files) return undefined;
  const dir = await env.store.layers.lowerdir(prev.layer as Digest);
  return dir ? { dir, files: prev.files } : undefined;
}

interface Reuse {
  /** The previous run's layer directory (its tree came from a context too: walked `beneath`, no link followed). */
  root: RootDir;
  /** Whether a context file's recorded hash and mode are unchanged since then. */
  same(rel: string): boolean;
}

/** Links `path` from the previous layer when it holds the same file as would be written; false to copy instead. */
function linkFromPrevious(p: PutOpts, rel: string, path: string, st: EntryStat, mode: number, owner: Owner): boolean {
  if (!p.reuse || !p.reuse.same(rel)) return false;
  let fd: number;
  try {
    fd = openIn(p.reuse.root, path, O.PATH | O.NOFOLLOW, 'beneath');
  } catch {
    return false;
  }
  try {
    const old = fstatSync(fd);
    if (
      !old.isFile() ||
      old.size !== st.size ||
      Math.abs(old.mtimeMs - st.mtimeMs) >= 1 ||
      (old.mode & 0o7777) !== mode ||
      old.uid !== owner.uid ||
      old.gid !== owner.gid
    )
      return false;
    p.w.linkFrom(path, fd);
    return true;
  } catch {
    return false;
  } finally {
    closeFd(fd);
  }
}

/**
 * Links the file `rel` of an immutable context (a Git checkout in the store, builder/context.ts) into the layer when
 * the layer's file would be the same inode's twin: same mode and owner (its mtime is the inode's). One link per
 * source inode and step: a file copied to two places is two files in BuildKit's layer, not a tar hard link.
 */
function linkFromContext(p: PutOpts, rel: string, path: string, st: EntryStat, mode: number, owner: Owner): boolean {
  if (!p.srcCtx.immutable || p.isAdd) return false;
  if ((st.mode & 0o7777) !== mode || st.uid !== owner.uid || st.gid !== owner.gid) return false;
  const key = `${st.dev}:${st.ino}`;
  p.linkedFromContext ??= new Set();
  if (p.linkedFromContext.has(key)) return false;
  let fd: number;
  try {
    fd = p.srcCtx.openFile(rel);
  } catch {
    return false;
  }
  try {
    p.w.linkFrom(path, fd);
    p.linkedFromContext.add(key);
    return true;
  } catch {
    // another filesystem (EXDEV), a link limit: copied instead
    return false;
  } finally {
    closeFd(fd);
  }
}

interface PutOpts {
  reuse?: Reuse;
  /** Inodes of an immutable context this step linked into the layer: a second path to one is copied, not linked. */
  linkedFromContext?: Set<string>;
  w: UpperWriter;
  srcCtx: BuildContext;
  owner: Owner | undefined;
  chmod: number | undefined;
  preserveOwner: boolean;
  isAdd: boolean;
  now: Date;
  /** The step's key is hashed as it copies: every source entry goes to it, in the walk's order. */
  digest?: EntriesDigest;
  /** Where putDir writes the layer tar of the tree it copies (the commit checks and takes it). */
  premade?: { path: string; sourceDateEpoch: number | undefined };
  tar?: PremadeTarWriter;
}

const ROOT: Owner = { uid: 0, gid: 0 };

/**
 * Makes the directory `dir` and its missing parents as BuildKit's copy does (fsutil's MkdirAll): 0755, owned by
 * the --chown owner or root; a directory that exists keeps its mode and owner.
 */
async function destDirs(p: PutOpts, dir: string): Promise<void> {
  // one that exists is not even copied up: copying nothing into it leaves the layer empty, as in BuildKit
  if ((await p.w.viewStat(dir))?.isDirectory()) return;
  await p.w.mkdirs(dir, p.owner ?? ROOT);
}

function ownerOf(p: PutOpts, st: { uid: number; gid: number }): Owner {
  return p.owner ?? (p.preserveOwner ? { uid: st.uid, gid: st.gid } : { uid: 0, gid: 0 });
}

/**
 * Copies the source file `rel` (opened inside its root, never through a link) to `path`. With a digest to feed,
 * returns the content's sha256 when the copy read the content on this thread.
 */
async function copyFrom(
  p: PutOpts,
  rel: string,
  path: string,
  st: EntryStat,
  mode: number,
  owner: Owner,
  hardlinkKey?: string,
  queue = false,
): Promise<string | undefined> {
  const fd = p.srcCtx.openFile(rel);
  let seen: string | undefined;
  const tar = p.tar?.live ? p.tar : undefined;
  const mtimeMs = Math.round(st.mtimeMs);
  try {
    const before = tar?.count;
    const writing = p.w.writeFile(
      path,
      fd,
      st,
      mode,
      owner,
      hardlinkKey,
      queue,
      p.digest || tar
        ? (b) => {
            tar?.file(path.slice(1), mode, owner.uid, owner.gid, mtimeMs, b);
            if (p.digest) seen = sha256Hex(b);
          }
        : undefined,
    );
    // not read on this thread (the kernel copies it): its header only, still in the walk's place
    if (tar && tar.count === before) tar.largeFile(path.slice(1), mode, owner.uid, owner.gid, mtimeMs, st.size);
    await writing;
  } finally {
    closeSync(fd);
  }
  return seen;
}

async function putDir(p: PutOpts, it: LocalItem, target: string): Promise<void> {
  const root = await p.w.resolve(target);
  const realRoot = await secureDest(p.w, root);
  // The destination directory takes nothing from the source directory (BuildKit copies its contents only): an
  // existing one stays as it is, a missing one is made like a missing parent. Directories inside do keep theirs.
  // the walk's names are unique within this call only: files queued for the writer thread are all written (and
  // the directories made before are no longer taken as fresh) at its start and before the hard links
  p.w.settle();
  await destDirs(p, realRoot);
  if (p.premade) p.tar = new PremadeTarWriter(p.premade.path, realRoot.slice(1), p.premade.sourceDateEpoch);
  // One pass over the walk (a stream, parents before children): each directory is made when it comes, files are
  // copied in a bounded window of parallel copies behind it; files sharing an inode last, in order, so each hard
  // link finds its first copy.
  const linked: LocalChild[] = [];
  const put = async (c: LocalChild): Promise<string | undefined> => {
    const path = posix.join(realRoot, c.rel);
    const st = c.entry.stat;
    const owner = ownerOf(p, st);
    const mode = p.chmod ?? st.mode & 0o7777;
    // a file linked from elsewhere is not read here: the commit walks the tree itself
    if (
      c.entry.type === 'file' &&
      ((st.nlink === 1 && linkFromPrevious(p, c.entry.rel, path, st, mode, owner)) ||
        linkFromContext(p, c.entry.rel, path, st, mode, owner))
    ) {
      p.tar?.abandon();
      return;
    }
    if (c.entry.type === 'file') return copyFrom(p, c.entry.rel, path, st, mode, owner, hardlinkKey(p, st), true);
    else if (c.entry.type === 'symlink') {
      p.tar?.symlink(path.slice(1), c.entry.linkTarget!, owner.uid, owner.gid, Math.round(st.mtimeMs));
      await p.w.writeSymlink(path, c.entry.linkTarget!, owner, statDate(st.mtimeMs));
    }
  };
  const inFlight = new Set<Promise<void>>();
  let failed: { e: unknown } | undefined;
  try {
    for (const c of it.children()) {
      if (failed) break;
      const st = c.entry.stat;
      let full: Promise<void> | undefined;
      // the name hashLocal gives it (sources.ts)
      const name = `${it.name}/${c.rel}`;
      if (c.entry.type === 'dir') {
        const path = posix.join(realRoot, c.rel);
        const mode = p.chmod ?? st.mode & 0o7777;
        const owner = ownerOf(p, st);
        await p.w.writeDir(path, mode, owner, statDate(st.mtimeMs));
        p.tar?.dir(path.slice(1), mode, owner.uid, owner.gid, Math.round(st.mtimeMs));
        full = p.digest?.add(name, c.entry);
      } else if (c.entry.type === 'file' && hardlinkKey(p, st) !== undefined) {
        // copied last, after every first copy: hashed now, in its place in the walk (not in the premade tar's)
        linked.push(c);
        p.tar?.abandon();
        full = p.digest?.add(name, c.entry, p.srcCtx.fileHash(c.entry));
      } else {
        const copied = put(c);
        const job: Promise<void> = copied.then(
          () => void inFlight.delete(job),
          (e: unknown) => {
            inFlight.delete(job);
            failed ??= { e };
          },
        );
        inFlight.add(job);
        if (p.digest) {
          const beside = hashBeside(p, c.entry);
          full = p.digest.add(
            name,
            c.entry,
            copied.then((seen) => contentHash(p, c.entry, seen, beside)),
          );
        }
        if (inFlight.size >= COPY_WINDOW) await Promise.race(inFlight);
      }
      // the digest's window is full: its oldest entry first (no promise tick for each entry otherwise)
      if (full) await full;
    }
  } finally {
    await Promise.all(inFlight);
  }
  if (failed) throw failed.e;
  p.w.settle();
  for (const c of linked) await put(c);
}

/**
 * The key that keeps a source's hard links hard links in the layer; none for an immutable context, whose files'
 * extra links are layers' (Git writes none).
 */
function hardlinkKey(p: PutOpts, st: EntryStat): string | undefined {
  return st.nlink > 1 && !p.srcCtx.immutable ? `${st.dev}:${st.ino}` : undefined;
}

/** A time as fs.Stats gives it as a Date (whole milliseconds, rounded). */
function statDate(ms: number): Date {
  return new Date(Math.round(ms));
}

/** Files copied at once. */
const COPY_WINDOW = 32;

/** Copies one source to `target`; returns what copyFrom does. */
async function putOne(p: PutOpts, it: SourceItem, target: string): Promise<string | undefined> {
  const path = await p.w.resolve(target);
  await destDirs(p, posix.dirname(path));
  if (it.kind === 'heredoc') {
    await p.w.writeContent(path, it.content, p.chmod ?? 0o644, p.owner ?? { uid: 0, gid: 0 }, p.now);
    return;
  }
  if (it.kind === 'url') {
    // our own download in the build's temporary directory
    const fd = openSync(it.file, 'r');
    try {
      const st = fstatSync(fd);
      const mtime = it.mtime ?? new Date(0);
      await p.w.writeFile(
        path,
        fd,
        { mode: st.mode, size: st.size, atimeMs: mtime.getTime(), mtimeMs: mtime.getTime() },
        p.chmod ?? 0o600,
        p.owner ?? { uid: 0, gid: 0 },
      );
    } finally {
      closeSync(fd);
    }
    return;
  }
  const st = it.entry.stat;
  const owner = ownerOf(p, st);
  if (it.entry.type === 'file') {
    const mode = p.chmod ?? st.mode & 0o7777;
    if (st.nlink === 1 && linkFromPrevious(p, it.entry.rel, path, st, mode, owner)) return;
    if (linkFromContext(p, it.entry.rel, path, st, mode, owner)) return;
    return copyFrom(p, it.entry.rel, path, st, mode, owner);
  } else if (it.entry.type === 'symlink')
    await p.w.writeSymlink(path, it.entry.linkTarget!, owner, statDate(st.mtimeMs));
  else throw new SourceError(`${it.entry.rel}: unsupported file type`);
}

/** tar, or tar compressed with gzip, bzip2 or xz (ADD extracts those). */
function isArchive(src: BuildContext, rel: string): boolean {
  const fd = src.openFile(rel);
  try {
    const b = Buffer.alloc(512);
    const bytesRead = readSync(fd, b, 0, 512, 0);
    if (bytesRead >= 2 && b[0] === 0x1f && b[1] === 0x8b) return true;
    if (bytesRead >= 3 && b.subarray(0, 3).toString('latin1') === 'BZh') return true;
    if (bytesRead >= 6 && b.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return true;
    return bytesRead >= 262 && b.subarray(257, 262).toString('latin1') === 'ustar';
  } finally {
    closeSync(fd);
  }
}

/** ADD of a local archive: unpacked into `target` in the upperdir by the store's layer unpacker (see archive.ts). */
async function extract(p: PutOpts, rel: string, target: string): Promise<void> {
  const real = await secureDest(p.w, target);
  await destDirs(p, real);
  const fd = p.srcCtx.openFile(rel);
  try {
    await extractArchive(fd, p.w.dirOf(real), posix.basename(rel));
  } finally {
    closeSync(fd);
    // the archive may have replaced directories the writer holds
    p.w.forget(real);
  }
}
