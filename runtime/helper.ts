// Locates (compiling once if needed) tsbuild-exec, the small C program that enters the root and drops privileges
// in chroot isolation (runtime/helper/tsbuild-exec.c). The binary is cached by the hash of its source, in the user's
// cache directory (~/.cache/tsbuild/bin; /run is often mounted noexec), else in the run dir.
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { access, constants, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The helper could not be built (no C compiler): the message says what to install. */
export class HelperBuildError extends Error {
  override name = 'HelperBuildError';
  constructor(readonly source: string, detail: string) {
    super(`cannot compile the runtime helper ${source}: ${detail} (install gcc and libc6-dev, or use --isolation pivot)`);
  }
}

function sourcePath(): string {
  // From dist/runtime/helper.js the source is ../../runtime/helper/ (it ships beside dist/); from source, ./helper/.
  const candidates = [new URL('../../runtime/helper/tsbuild-exec.c', import.meta.url), new URL('./helper/tsbuild-exec.c', import.meta.url)];
  const found = candidates.map((u) => fileURLToPath(u)).find((p) => existsSync(p));
  return found ?? fileURLToPath(candidates[0]!);
}

const cache = new Map<string, Promise<string>>();

export function defaultHelperDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tsbuild', 'bin');
}

/** Path of the compiled helper in the first usable of `binDirs`, compiling it on first use (temp, then rename). */
export function ensureHelper(binDirs: string[]): Promise<string> {
  const key = binDirs.join('\0');
  let p = cache.get(key);
  if (!p) {
    p = (async () => {
      let last: unknown;
      for (const d of binDirs) {
        try {
          return await build(d);
        } catch (e) {
          last = e;
          if (e instanceof HelperBuildError) throw e;
        }
      }
      throw last;
    })();
    p.catch(() => cache.delete(key));
    cache.set(key, p);
  }
  return p;
}

async function build(binDir: string): Promise<string> {
  const src = sourcePath();
  const text = await readFile(src);
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const bin = join(binDir, `tsbuild-exec-${hash}`);
  try {
    await access(bin, constants.X_OK);
    return bin;
  } catch {
    // build below
  }
  await mkdir(binDir, { recursive: true });
  const tmp = `${bin}.tmp-${process.pid}`;
  try {
    await run(process.env.CC ?? 'cc', ['-O2', '-Wall', '-o', tmp, src]);
    await rename(tmp, bin);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new HelperBuildError(src, (err as Error).message.split('\n')[0] ?? String(err));
  }
  return bin;
}
