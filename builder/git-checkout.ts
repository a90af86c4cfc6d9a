// A local context's checkout read from its .git files: HEAD's commit and origin's URL, as `git rev-parse --verify
// HEAD` and `git remote get-url origin` give them, without starting git (two processes forked from a large one cost
// an attested no-op rebuild about 7 % of its time). Only the plain layouts are read here: anything git would
// interpret further (an env variable of git's, includes, url.*.insteadOf in any config git reads, ref storage
// extensions, a symbolic ref chain, a repository another user owns, a filesystem boundary on the way up, quoting
// in the value, a symbolic link among the files read) answers `undefined`, and the caller asks git itself, so the
// answer is always git's.
import { closeSync, constants, existsSync, fstatSync, lstatSync, openSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { readFdAt } from '../runtime/index.js';

export interface CheckoutFacts {
  commit?: string;
  remote?: string;
}

/** git's variables that change neither where the repository is nor what HEAD or a remote's URL reads. */
const UNRELATED_ENV =
  /^GIT_(?:SSL_|SSH|ASKPASS$|TERMINAL_PROMPT$|TRACE|AUTHOR_|COMMITTER_|EDITOR$|PAGER|HTTP_|PROXY_|CURL_|LFS_|FLUSH$)/;

/** Files read here are small: a larger one is not a plain layout. */
const MAX_FILE = 1 << 20;
const OBJECT_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** HEAD's commit and origin's URL of the checkout holding `dir`, or undefined when git must be asked. */
export function readCheckout(dir: string, env: NodeJS.ProcessEnv = process.env): CheckoutFacts | undefined {
  if (Object.keys(env).some((k) => k.startsWith('GIT_') && !UNRELATED_ENV.test(k))) return undefined;
  const found = findGitDir(resolve(dir));
  if (found === undefined) return undefined;
  if (found === null) return {};
  const { top, gitDir } = found;
  // git's safe.directory check: a repository another user owns is refused (unless configured): let git decide
  const uid = process.getuid?.();
  if (uid === undefined || statSync(top).uid !== uid || statSync(gitDir).uid !== uid) return undefined;
  const common = readText(join(gitDir, 'commondir'));
  if (common === null) return undefined;
  const commonDir = common === undefined ? gitDir : resolve(gitDir, common.trim());
  const config = readText(join(commonDir, 'config'));
  if (config == null || interprets(config)) return undefined;
  // the machine's own configs (not the context's): followed as git follows them
  for (const f of globalConfigs(env)) {
    const text = readText(f, true);
    if (text === null || (text !== undefined && interprets(text))) return undefined;
  }
  const remote = originUrl(config);
  if (remote === null) return undefined;
  // the old ways of naming a remote, which git still reads
  if (remote === undefined && ['remotes', 'branches'].some((d) => existsSync(join(commonDir, d, 'origin'))))
    return undefined;
  const head = readText(join(gitDir, 'HEAD'))?.trim();
  if (head == null) return undefined;
  let commit: string | undefined;
  if (OBJECT_ID.test(head)) commit = head;
  else {
    const m = /^ref: (refs\/[^\s]+)$/.exec(head);
    if (!m || m[1]!.includes('..')) return undefined;
    const text = readText(join(commonDir, m[1]!));
    if (text === null) return undefined;
    const loose = text?.trim();
    if (loose !== undefined) {
      if (!OBJECT_ID.test(loose)) return undefined;
      commit = loose;
    } else {
      const packed = packedRef(readText(join(commonDir, 'packed-refs')), m[1]!);
      if (packed === null) return undefined;
      commit = packed;
    }
  }
  return { ...(commit ? { commit } : {}), ...(remote ? { remote } : {}) };
}

/**
 * The repository holding `dir`: its top and git directory; null when there is none up to the root; undefined
 * when the way there is one git may take otherwise (a filesystem boundary, a .git of another kind).
 */
function findGitDir(dir: string): { top: string; gitDir: string } | null | undefined {
  let dev: number | undefined;
  for (let d = dir; ; d = dirname(d)) {
    let st;
    try {
      st = statSync(d);
    } catch {
      return undefined;
    }
    if (dev !== undefined && st.dev !== dev) return undefined;
    dev = st.dev;
    const dotGit = join(d, '.git');
    let lst;
    try {
      lst = lstatSync(dotGit);
    } catch {
      lst = undefined;
    }
    if (lst?.isDirectory()) return { top: d, gitDir: dotGit };
    if (lst?.isFile()) {
      const m = /^gitdir: (.+)$/.exec(readText(dotGit)?.trim() ?? '');
      return m ? { top: d, gitDir: resolve(d, m[1]!) } : undefined;
    }
    if (lst) return undefined;
    if (d === dirname(d)) return null;
  }
}

/** Config that git would read further or rewrite a URL with. */
function interprets(config: string): boolean {
  return /^\s*\[\s*(?:include|includeif|extensions)\b/im.test(config) || /insteadof/i.test(config);
}

/** The config files besides the repository's that `git remote get-url` reads. */
function globalConfigs(env: NodeJS.ProcessEnv): string[] {
  const home = env.HOME ?? homedir();
  const xdg = env.XDG_CONFIG_HOME || join(home, '.config');
  return ['/etc/gitconfig', join(home, '.gitconfig'), join(xdg, 'git', 'config')];
}

/** origin's first url (undefined: no origin), or null when the value is one that needs git's parser. */
function originUrl(config: string): string | undefined | null {
  let inOrigin = false;
  for (const raw of config.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) {
      const m = /^\[\s*remote\s+"([^"\\]*)"\s*\]$/i.exec(line);
      if (!m && /^\[\s*remote\b/i.test(line)) return null;
      inOrigin = m?.[1] === 'origin';
      continue;
    }
    if (!inOrigin) continue;
    const kv = /^url\s*=\s*(.*)$/i.exec(line);
    if (!kv) continue;
    const v = kv[1]!;
    return /["\\;#]/.test(v) || v === '' ? null : v;
  }
  return undefined;
}

/** The object a packed ref names; undefined when absent, null when the file is not the plain form. */
function packedRef(text: string | undefined | null, ref: string): string | undefined | null {
  if (text === null) return null;
  if (text === undefined) return undefined;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#') || line.startsWith('^')) continue;
    const [id, name] = line.split(' ');
    if (!id || !OBJECT_ID.test(id) || !name) return null;
    if (name === ref) return id;
  }
  return undefined;
}

/**
 * A small regular file's text; undefined when there is none, null when there is something this reader leaves to git
 * (a symbolic link: the context is untrusted and is not followed here; a FIFO, a device, a large file).
 */
function readText(path: string, follow = false): string | undefined | null {
  let fd: number;
  try {
    // non-blocking: a FIFO planted in a hostile context must not hang the build
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | (follow ? 0 : constants.O_NOFOLLOW));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? undefined : null;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > MAX_FILE) return null;
    return readFdAt(fd, st.size).toString('utf8');
  } finally {
    closeSync(fd);
  }
}
