// The store's Git cache, builder/git/<key>: the checkouts builds made of Git contexts and of ADD of a repository
// (builder/sources/git.ts). Nothing writes a checkout once it is in place, so layers may hard-link its files. A build
// names `git:<key>` in its lease before it looks for the checkout; `tsbuild prune` removes every one not leased
// (store/ops/gc.ts): a checkout is a cache of the remote, fetched again when needed.
import { join } from 'node:path';

export function gitCacheDir(root: string): string {
  return join(root, 'builder', 'git');
}

/** A checkout's name: 32 hex digits (a digest of the remote, the commit and keepGitDir). */
export const GIT_CACHE_ENTRY = /^[0-9a-f]{32}$/;

/** What a build that uses the checkout `key` names in its lease. */
export function gitCacheLease(key: string): string {
  return `git:${key}`;
}
