// `--build-context NAME=VALUE` (buildx's named contexts): a directory, an HTTP(S) tarball, a Git repository,
// `docker-image://REF[@digest]` or `oci-layout://PATH[:tag|@digest]`, used by `FROM NAME`, `COPY --from=NAME` and
// `RUN --mount=from=NAME`. As in BuildKit (dockerui NamedContext), NAME is matched against those words as an image
// reference in its familiar form without `:latest` (`FROM alpine:latest` and `FROM docker.io/library/alpine` both
// match `alpine`), and a stage whose name matches is replaced by the context, its instructions not run.
//
// What each kind fetches is pluggable (`ContextFetchers`): directories and HTTP(S) here; Git from the git source
// (builder/sources/git-context.ts), which needs the store and the build's secrets, so makeEnv (builder/env.ts) passes
// it in; GIT_FETCHER below refuses Git for a NamedContexts made without it.
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isDigest, parseReference, UsageError, type Digest, type Platform } from '../oci/index.js';
import type { ImageRecord, Store } from '../store/index.js';
import { BuildContext } from './context.js';
import { isHttpContext } from './context-url.js';
import { isGitSource } from './git-url.js';
import { contextKey } from './named-key.js';

export { contextKey };

export type NamedSource =
  | { kind: 'dir'; path: string }
  | { kind: 'url'; url: string }
  | { kind: 'git'; url: string }
  | { kind: 'image'; ref: string }
  | { kind: 'oci-layout'; path: string; tag?: string; digest?: Digest };

export interface NamedContextSpec {
  /** As matched: the familiar reference form, without `:latest`. */
  name: string;
  source: NamedSource;
}

/** How a file-tree context is obtained, per kind; the build owns (and closes) what they return. */
export interface ContextFetchers {
  dir(path: string): Promise<BuildContext>;
  url(url: string, tmpDir: string, signal?: AbortSignal): Promise<BuildContext>;
  git(url: string, tmpDir: string, signal?: AbortSignal): Promise<BuildContext>;
}

/** GIT_FETCHER: the default when no Git fetcher is passed in (the build passes one: builder/env.ts). */
const GIT_FETCHER: ContextFetchers['git'] = async (url) => {
  throw new UsageError(`--build-context ${url}: git named contexts need the git source fetcher, not built in yet`, {
    hint: 'clone the repository and give its directory: --build-context NAME=DIR',
  });
};

export const defaultFetchers: ContextFetchers = {
  dir: (path) => BuildContext.openDir(path),
  url: async (url, tmpDir, signal) =>
    (await import('./remote-context.js')).openHttpContext(url, tmpDir, signal ? { signal } : {}),
  git: GIT_FETCHER,
};

/** `NAME=VALUE` as buildx takes it; a directory must exist (exit 2 otherwise). */
export function parseBuildContext(spec: string): NamedContextSpec {
  const eq = spec.indexOf('=');
  if (eq <= 0 || eq === spec.length - 1)
    throw new UsageError(`--build-context "${spec}": expected NAME=VALUE`, {
      hint: 'VALUE is a directory, an https:// URL, a Git URL, docker-image://REF or oci-layout://PATH[:tag]',
    });
  // buildx's NAME::os/arch form names a context for one platform only; read as a plain name it would match nothing
  if (spec.slice(0, eq).includes('::'))
    throw new UsageError(`--build-context "${spec}": a platform-qualified name (NAME::os/arch) is not supported`, {
      hint: 'name the context without ::platform (it then applies to every platform)',
    });
  const name = contextKey(spec.slice(0, eq));
  const value = spec.slice(eq + 1);
  return { name, source: classify(value, spec) };
}

function classify(value: string, spec: string): NamedSource {
  if (value.startsWith('docker-image://')) {
    const ref = value.slice('docker-image://'.length);
    try {
      parseReference(ref);
    } catch (e) {
      throw new UsageError(`--build-context ${spec}: ${(e as Error).message}`);
    }
    return { kind: 'image', ref };
  }
  if (value.startsWith('oci-layout://')) {
    let rest = value.slice('oci-layout://'.length);
    let digest: Digest | undefined;
    let tag: string | undefined;
    const at = rest.lastIndexOf('@');
    if (at > 0) {
      const d = rest.slice(at + 1);
      if (!isDigest(d)) throw new UsageError(`--build-context ${spec}: "${d}" is not a digest`);
      digest = d;
      rest = rest.slice(0, at);
    }
    const colon = rest.lastIndexOf(':');
    if (colon > 0 && !rest.slice(colon + 1).includes('/')) {
      tag = rest.slice(colon + 1);
      rest = rest.slice(0, colon);
    }
    return { kind: 'oci-layout', path: resolve(rest), ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
  }
  if (isHttpContext(value)) return { kind: 'url', url: value };
  if (isGitSource(value)) return { kind: 'git', url: value };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value))
    throw new UsageError(`--build-context ${spec}: the scheme of "${value}" is not supported`, {
      hint: 'use a directory, https://, a Git URL, docker-image:// or oci-layout://',
    });
  return { kind: 'dir', path: resolve(value) };
}

export type Resolved =
  | { kind: 'context'; name: string; context: Promise<BuildContext> }
  | { kind: 'image'; name: string; image(platform: Platform): Promise<{ record: ImageRecord; pulled: boolean }> };

/**
 * The build's named contexts: file trees fetched on first use (and closed by close()), images resolved through
 * the base-image path (docker-image://) or imported from the layout into the store (oci-layout://).
 */
export class NamedContexts {
  private readonly byName = new Map<string, NamedContextSpec>();
  private readonly trees = new Map<string, Promise<BuildContext>>();
  private readonly images = new Map<string, Promise<{ record: ImageRecord; pulled: boolean }>>();

  constructor(
    specs: NamedContextSpec[],
    private readonly deps: {
      store: Store;
      tmpDir: string;
      resolveBaseImage(ref: string, platform: Platform): Promise<{ record: ImageRecord; pulled: boolean }>;
      fetchers?: ContextFetchers;
      signal?: AbortSignal;
    },
  ) {
    for (const s of specs) {
      if (this.byName.has(s.name)) throw new UsageError(`--build-context ${s.name} is given twice`);
      this.byName.set(s.name, s);
    }
  }

  /** The names (keys), for the plan. */
  names(): Set<string> {
    return new Set(this.byName.keys());
  }

  /** Checks what can be checked before the build runs: directories exist, Git has a fetcher. */
  async check(): Promise<void> {
    for (const s of this.byName.values()) {
      if (s.source.kind === 'dir' || s.source.kind === 'oci-layout') {
        const st = await stat(s.source.path).catch(() => undefined);
        if (!st?.isDirectory()) throw new UsageError(`--build-context ${s.name}: ${s.source.path} is not a directory`);
      }
      if (s.source.kind === 'git' && (this.deps.fetchers ?? defaultFetchers).git === GIT_FETCHER)
        await GIT_FETCHER(s.source.url, this.deps.tmpDir);
    }
  }

  get(word: string): Resolved | undefined {
    const name = contextKey(word);
    const s = this.byName.get(name);
    if (!s) return undefined;
    const src = s.source;
    if (src.kind === 'image' || src.kind === 'oci-layout')
      return { kind: 'image', name, image: (platform) => this.image(name, src, platform) };
    let tree = this.trees.get(name);
    if (!tree) {
      const f = this.deps.fetchers ?? defaultFetchers;
      tree =
        src.kind === 'dir'
          ? f.dir(src.path)
          : src.kind === 'url'
            ? f.url(src.url, this.deps.tmpDir, this.deps.signal)
            : f.git(src.url, this.deps.tmpDir, this.deps.signal);
      tree.catch(() => undefined);
      this.trees.set(name, tree);
    }
    return { kind: 'context', name, context: tree };
  }

  private image(
    name: string,
    src: Extract<NamedSource, { kind: 'image' | 'oci-layout' }>,
    platform: Platform,
  ): Promise<{ record: ImageRecord; pulled: boolean }> {
    const key = `${name} ${platform.os}/${platform.architecture}/${platform.variant ?? ''}`;
    let p = this.images.get(key);
    if (!p) {
      p =
        src.kind === 'image'
          ? this.deps.resolveBaseImage(src.ref, platform)
          : importLayout(this.deps.store, src, platform).then((record) => ({ record, pulled: false }));
      this.images.set(key, p);
    }
    return p;
  }

  async close(): Promise<void> {
    for (const t of this.trees.values()) await (await t.catch(() => undefined))?.close();
  }
}

interface LayoutIndex {
  manifests: { mediaType?: string; digest: string; size: number; annotations?: Record<string, string> }[];
}

/**
 * Copies the image an OCI layout names (by `@digest`, by `:tag` = its ref.name annotation, or its only manifest)
 * into the store, every blob verified against its digest, and resolves it for `platform`.
 */
async function importLayout(
  store: Store,
  src: { path: string; tag?: string; digest?: Digest },
  platform: Platform,
): Promise<ImageRecord> {
  const what = `oci-layout://${src.path}`;
  let index: LayoutIndex;
  try {
    index = JSON.parse(await readFile(join(src.path, 'index.json'), 'utf8')) as LayoutIndex;
  } catch (e) {
    throw new UsageError(`${what}: cannot read index.json: ${(e as Error).message}`);
  }
  const ms = index.manifests ?? [];
  const pick = src.digest
    ? (ms.find((m) => m.digest === src.digest) ?? { digest: src.digest, size: -1 })
    : src.tag
      ? ms.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === src.tag)
      : ms.length === 1
        ? ms[0]
        : undefined;
  if (!pick)
    throw new UsageError(
      src.tag
        ? `${what}: no image is tagged ${src.tag}`
        : `${what}: the layout holds ${ms.length} images; name one with :tag or @digest`,
    );
  const put = async (digest: string, size: number): Promise<void> => {
    if (!isDigest(digest) || !digest.startsWith('sha256:'))
      throw new UsageError(`${what}: unsupported digest ${digest}`);
    const file = join(src.path, 'blobs', 'sha256', digest.slice(7));
    if (!(await store.blobs.has(digest)))
      await store.blobs.put(createReadStream(file), { digest, ...(size >= 0 ? { size } : {}) });
  };
  const json = async (digest: string, size: number): Promise<Record<string, unknown>> => {
    await put(digest, size);
    return JSON.parse(await readFile(join(src.path, 'blobs', 'sha256', digest.slice(7)), 'utf8')) as Record<
      string,
      unknown
    >;
  };
  const walk = async (digest: string, size: number): Promise<void> => {
    const doc = await json(digest, size);
    const children = doc.manifests as { digest: string; size: number }[] | undefined;
    if (children) for (const c of children) await walk(c.digest, c.size);
    const cfg = doc.config as { digest: string; size: number } | undefined;
    if (cfg) await put(cfg.digest, cfg.size);
    for (const l of (doc.layers as { digest: string; size: number }[] | undefined) ?? []) await put(l.digest, l.size);
  };
  try {
    await walk(pick.digest, pick.size);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`${what}: ${(e as Error).message}`);
  }
  const rec = await store.images.resolve(pick.digest, platform);
  if (!rec) throw new UsageError(`${what}: no image for ${platform.os}/${platform.architecture} in ${pick.digest}`);
  return rec;
}
