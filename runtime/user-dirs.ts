// Where a non-root user's run dir goes (the XDG layout, as podman's; the store's default is the CLI's,
// cli/context.ts): $XDG_RUNTIME_DIR/tsbuild, else a private 0700 directory under /tmp that must be the user's own
// (one made by somebody else first is refused: it could hold their mounts and probes).
import { lstatSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { RuntimeError } from './errors.js';

/** The user's run dir, made 0700 if missing; refused unless it is a directory of theirs, closed to others. */
export function userRunDir(env: NodeJS.ProcessEnv = process.env, uid = process.geteuid?.() ?? 0): string {
  const xdg = env.XDG_RUNTIME_DIR;
  const base = xdg && ownDir(xdg, uid) ? xdg : undefined;
  const dir = base ? join(base, 'tsbuild') : `/tmp/tsbuild-${uid}`;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0)
    throw new RuntimeError(
      'RUN_DIR_UNSAFE',
      `refusing the run dir ${dir}: ${!st.isDirectory() ? 'not a directory' : st.uid !== uid ? `owned by uid ${st.uid}, not ${uid}` : `mode 0${(st.mode & 0o777).toString(8)}, not 0700`}`,
      {
        hint: `set XDG_RUNTIME_DIR to a directory of yours (mode 0700), or remove ${dir} if it is yours to remove`,
      },
    );
  return dir;
}

function ownDir(path: string, uid: number): boolean {
  try {
    const st = lstatSync(path);
    return st.isDirectory() && st.uid === uid;
  } catch {
    return false;
  }
}
