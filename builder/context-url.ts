// Which context words are URLs to download (an HTTP(S) tarball or Buildfile) rather than directories: buildx's
// rule, a `http(s)://` URL that is not a Git repository (builder/git-url.ts decides that).
import { isGitSource } from './git-url.js';

/** True for an `http(s)://` context that is not a Git repository URL. */
export function isHttpContext(context: string): boolean {
  return /^https?:\/\//i.test(context) && !isGitSource(context);
}
