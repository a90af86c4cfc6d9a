// Which ADD sources are Git repositories, by BuildKit's rules (util/gitutil ParseGitRef, used by the Dockerfile
// frontend's dispatchCopy): `git://…` and `ssh://…` URLs, `http(s)://…` URLs whose path ends in `.git` (with an
// optional `#ref[:subdir]`), and SCP-style `user@host:path`. `github.com/…` without a scheme is, as in BuildKit's
// ADD, a local path (BuildKit calls that form indistinguishable from local). The fetch is builder/sources/git.ts.

const SCHEME = /^([a-zA-Z0-9]+):\/\//;
const GIT_SCHEMES = new Set(['http', 'https', 'ssh', 'git']);
// BuildKit's sshutil pattern with the user part required: `git@github.com:moby/buildkit.git#main`. Without a user
// (`host:path`), a local file name with a colon would be taken for a repository.
const SCP = /^[a-zA-Z0-9_-]+@[a-zA-Z0-9.-]+:.*$/;

/** True when ADD would treat `src` (expanded) as a Git repository. */
export function isGitSource(src: string): boolean {
  if (src.startsWith('./') || src.startsWith('../')) return false;
  const m = SCHEME.exec(src);
  if (m) {
    const scheme = m[1]!.toLowerCase();
    if (!GIT_SCHEMES.has(scheme)) return false;
    let url: URL;
    try {
      url = new URL(src);
    } catch {
      return false;
    }
    // an HTTP(S) URL is a repository only with the `.git` suffix; anything else is a file to download
    return scheme === 'ssh' || scheme === 'git' || url.pathname.endsWith('.git');
  }
  return SCP.test(src);
}
