// Reading and parsing the Buildfile: from -f, the context directory, a context tar or stdin; the parse is cached
// per user outside the store, keyed by the text and the parser build.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ParseResult } from '../parser/index.js';
import { PlanError } from './errors.js';
import type { BuildOptions } from './options.js';

export async function readAndParse(
  opts: BuildOptions,
  tarRoot: string | undefined,
  /** How to name a fetched context (a Git URL) whose checkout is `tarRoot`. */
  contextLabel?: string,
): Promise<{ file: string; buildfilePath?: string; parsed: ParseResult }> {
  const { text, file, buildfilePath } = await readBuildfile(opts, tarRoot, contextLabel);
  // Kept outside the store: parsing is a pure function of the text, and a fresh store (a cold build) can reuse it.
  const parsed = await parseCached(text, file, join(tmpdir(), `tsbuild-parse-cache-${process.getuid?.() ?? 0}`));
  return { file, ...(buildfilePath ? { buildfilePath } : {}), parsed };
}

/**
 * Parses the Buildfile, or reads the parse of the same text from a machine-local cache (keyed by the text, the file
 * name and the parser build), so a no-op rebuild does not load the parser. The parser build is an id the build
 * script writes beside tsc's parser output (scripts/bundle.mjs); without one (the TypeScript sources) nothing is
 * cached, since a parse could not be told from another parser's.
 */
async function parseCached(text: string, file: string, dir: string): Promise<ParseResult> {
  const parse = async (): Promise<ParseResult> =>
    (await (await import('../parser/index.js')).loadParser()).parseBuildfile(text, file);
  // Synchronous: a few tiny calls at the start of every build, each cheaper than a trip through the thread pool.
  let parserBuild: string;
  try {
    parserBuild = readFileSync(fileURLToPath(new URL('../parser/build-id', import.meta.url)), 'utf8');
  } catch {
    return parse();
  }
  const key = createHash('sha256').update(`${parserBuild}\0${file}\0${text}`).digest('hex');
  const path = join(dir, `${key}.json`);
  // The directory must be ours and private (it lives in a shared tmp): otherwise parse without the cache.
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch {
    /* checked below */
  }
  const dst = statSync(dir, { throwIfNoEntry: false });
  const own =
    dst !== undefined && dst.isDirectory() && dst.uid === (process.getuid?.() ?? dst.uid) && (dst.mode & 0o077) === 0;
  if (own) {
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as ParseResult;
    } catch {
      /* not cached yet */
    }
  }
  const parsed = await parse();
  if (!own) return parsed;
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(parsed));
  await rename(tmp, path);
  return parsed;
}

export async function readBuildfile(
  opts: BuildOptions,
  tarRoot: string | undefined,
  contextLabel?: string,
): Promise<{ text: string; file: string; buildfilePath?: string }> {
  if (opts.fileText !== undefined) return { text: opts.fileText, file: opts.file ?? 'Buildfile' };
  let path = opts.file;
  // With a tar context, -f names a file inside it (as docker build does).
  if (path !== undefined && tarRoot !== undefined && !path.startsWith('/')) path = join(tarRoot, path);
  if (path === undefined) {
    const dir = tarRoot ?? (opts.context as string);
    const candidates = ['Buildfile', 'Dockerfile'].map((n) => join(dir, n));
    for (const c of candidates) {
      if (statSync(c, { throwIfNoEntry: false })?.isFile()) {
        path = c;
        break;
      }
    }
    if (path === undefined)
      throw new PlanError(
        `no Buildfile (or Dockerfile) in ${contextLabel ?? (tarRoot ? 'the context from stdin' : dir)}; use -f`,
        contextLabel ?? (tarRoot ? '-' : dir),
      );
  }
  try {
    return { text: readFileSync(path, 'utf8'), file: path, buildfilePath: resolve(path) };
  } catch (e) {
    throw new PlanError(`cannot read the Buildfile: ${(e as Error).message}`, path);
  }
}
