// A build context given as a repository URL (`tsbuild build https://host/org/repo.git#ref:subdir`): the ref is
// resolved to a commit, the commit fetched into the store's git cache (or found there), and the checkout is then
// an ordinary context directory (its Buildfile unless -f, its .dockerignore). As BuildKit, .git is removed unless
// the build arg BUILDKIT_CONTEXT_KEEP_GIT_DIR is set.
import { gitCacheDir } from '../../store/index.js';
import type { BuildEvent } from '../events.js';
import { describe, fetchGit, gitAuthFrom, parseGitSource, redact, resolveRef } from './git.js';

export const KEEP_GIT_DIR_ARG = 'BUILDKIT_CONTEXT_KEEP_GIT_DIR';

/** What `--metadata-file` records about a Git context, under BuildKit's names (`vcs:source`, `vcs:revision`). */
export interface VcsInfo {
  source: string;
  revision: string;
}

/** BuildKit reads the arg as a boolean (`1`, `true`). */
export function keepGitDirArg(buildArgs: Record<string, string> | undefined): boolean {
  const v = buildArgs?.[KEEP_GIT_DIR_ARG];
  return v !== undefined && /^(1|true|yes|on)$/i.test(v.trim());
}

export async function fetchGitContext(
  arg: string,
  o: {
    /** The store: its Git cache, and the lease that keeps the checkout from a concurrent prune. */
    store: { readonly root: string; use(names: string[]): Promise<void> };
    /** The build's temporary directory (on the store's filesystem). */
    tmpDir: string;
    buildArgs: Record<string, string> | undefined;
    secrets: ReadonlyMap<string, Buffer>;
    emit: (e: BuildEvent) => void;
    signal?: AbortSignal;
  },
): Promise<{ dir: string; vcs: VcsInfo }> {
  const src = parseGitSource(arg);
  const opts = {
    cacheRoot: gitCacheDir(o.store.root),
    use: (names: string[]) => o.store.use(names),
    tmpDir: o.tmpDir,
    keepGitDir: keepGitDirArg(o.buildArgs),
    auth: gitAuthFrom(o.secrets, src.remote),
    ...(o.signal ? { signal: o.signal } : {}),
  };
  const resolved = await resolveRef(src, opts);
  const say = (message: string): void => o.emit({ type: 'log', time: Date.now(), level: 'info', message });
  say(`resolved ${describe(src)} to ${resolved.commit}`);
  const got = await fetchGit(src, resolved, opts);
  say(got.fetched ? `fetched ${resolved.commit}` : `${resolved.commit} is cached: nothing fetched`);
  return { dir: got.dir, vcs: { source: redact(src.remote), revision: resolved.commit } };
}
