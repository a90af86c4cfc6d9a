// `ADD [--keep-git-dir] [--checksum=<commit>] <git-url>#ref[:subdir] <dest>`: the ref is resolved before the cache
// lookup (ls-remote, no objects), and the commit (with --keep-git-dir and the subdir) is the step's key, so an
// unchanged ref is CACHED without fetching; the checkout comes from the store's git cache, shared with contexts.
import type { CopyInstruction } from '../../parser/index.js';
import { FlagError } from '../flags.js';
import type { StepCtx } from '../steps/types.js';
import { describe, fetchGit, gitAuthFrom, GitSourceError, parseGitSource, redact, resolveRef } from './git.js';
import { gitCacheDir } from '../../store/index.js';

export interface GitItem {
  /** What goes into the step's cache key: the remote (credentials redacted), commit, subdir, keep-git-dir. */
  key: unknown[];
  /** The checkout's directory (its subdir), fetched on the first call when the cache does not have it. */
  fetch(): Promise<string>;
}

export async function addGitSource(sc: StepCtx<CopyInstruction>, url: string): Promise<GitItem> {
  const { env, ins } = sc;
  const checksum = ins.checksum;
  // BuildKit's --checksum for a Git source is the commit (a prefix of its sha), not a digest of the content
  if (checksum !== undefined && !/^[0-9a-f]{7,64}$/.test(checksum))
    throw new FlagError(`invalid checksum "${checksum}" for a Git source: the commit sha is expected`, ins.range.line);
  const src = parseGitSource(url);
  const opts = {
    cacheRoot: gitCacheDir(env.store.root),
    use: (names: string[]) => env.store.use(names),
    tmpDir: env.tmpDir,
    keepGitDir: ins.keepGitDir,
    auth: gitAuthFrom(env.secrets, src.remote),
    ...(env.signal ? { signal: env.signal } : {}),
  };
  const resolved = await resolveRef(src, opts);
  if (checksum !== undefined && !resolved.commit.startsWith(checksum))
    throw new GitSourceError(
      `ADD ${describe(src)}: expected checksum to match ${checksum}, got ${resolved.commit}`,
      'the ref now names another commit: check it, or update --checksum',
    );
  env.emit({
    type: 'log',
    time: Date.now(),
    level: 'info',
    message: `resolved ${describe(src)} to ${resolved.commit}`,
  });
  return {
    key: ['git', redact(src.remote), resolved.commit, src.subdir ?? '', ins.keepGitDir],
    fetch: async () => (await fetchGit(src, resolved, opts)).dir,
  };
}
