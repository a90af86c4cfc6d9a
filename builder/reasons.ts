// Why a step missed the cache, in the vocabulary `--explain-cache` and `tsbuild why-rebuilt` read (cli/explain.ts):
// each step's inputs are kept per Buildfile and stage in a machine-local file under the store (written only when a
// stage ran something), and a miss is explained by the first input that differs from the last build's.
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join, resolve } from 'node:path';

export interface StepFacets {
  /** The instruction after substitution (or its key parts). */
  instruction: string;
  /** Build args the step sees. */
  args?: Record<string, string>;
  /** ENV the step sees (RUN). */
  env?: Record<string, string>;
  /** Files the step reads: path → content hash. */
  files?: Record<string, string>;
  /**
   * The same, not yet read (a COPY's spool, steps/files-spool.ts): loaded when the step misses, else copied as it
   * is into the saved record. Never saved itself.
   */
  filesSpool?: { load(): Promise<Record<string, string>>; members(): AsyncIterable<string> };
  /** The stage's base (first step only). */
  base?: string;
  /** The layer the step produced (diffID), so a rerun of a COPY can link unchanged files from it. */
  layer?: string;
}

/** The stage's name for its saved inputs: one file per platform in a multi-platform build. */
export function inputsName(displayName: string, platformLabel: string | undefined): string {
  return platformLabel !== undefined ? `${displayName} ${platformLabel}` : displayName;
}

export function inputsFile(storeRoot: string, buildfile: string, stage: string): string {
  const h = createHash('sha256')
    .update(`${resolve(buildfile)}\0${stage}`)
    .digest('hex')
    .slice(0, 32);
  return join(storeRoot, 'builder', 'last-inputs', `${h}.json`);
}

export async function loadInputs(file: string): Promise<StepFacets[] | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as StepFacets[];
  } catch {
    return undefined;
  }
}

/**
 * Written as JSON a piece at a time: a COPY of a monorepo's context has a `files` entry per file, and one
 * JSON.stringify of all of them was the largest string (and the heap's peak) of the whole build.
 */
export async function saveInputs(file: string, facets: StepFacets[]): Promise<void> {
  await mkdir(join(file, '..'), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    let buf = '';
    const put = async (s: string): Promise<void> => {
      buf += s;
      if (buf.length >= 1 << 16) {
        await fh.write(buf);
        buf = '';
      }
    };
    await put('[');
    for (let i = 0; i < facets.length; i++) {
      if (i > 0) await put(',');
      const { filesSpool, ...f } = facets[i] ?? { instruction: '' };
      if (!facets[i] || (!f.files && !filesSpool)) {
        await put(JSON.stringify(facets[i] ? f : null));
        continue;
      }
      const { files, ...rest } = f;
      const head = JSON.stringify(rest);
      await put(`${head.slice(0, -1)}${head === '{}' ? '' : ','}"files":{`);
      if (files) {
        let first = true;
        for (const k in files) {
          await put(`${first ? '' : ','}${JSON.stringify(k)}:${JSON.stringify(files[k])}`);
          first = false;
        }
      } else for await (const piece of filesSpool!.members()) await put(piece);
      await put('}}');
    }
    await put(']');
    if (buf) await fh.write(buf);
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
}

function firstDiff(a: Record<string, string> | undefined, b: Record<string, string> | undefined): string | undefined {
  const x = a ?? {};
  const y = b ?? {};
  for (const k of new Set([...Object.keys(x), ...Object.keys(y)].sort())) if (x[k] !== y[k]) return k;
  return undefined;
}

/** The reason for the first miss of a stage, comparing this step's inputs with the last build's. */
export function explainMiss(
  now: StepFacets,
  before: StepFacets | undefined,
  baseBefore: string | undefined,
  baseNow: string | undefined,
): string {
  if (baseBefore !== undefined && baseNow !== undefined && baseBefore !== baseNow)
    return `base image changed: ${baseNow}`;
  if (!before) return 'no cache record';
  const file = firstDiff(now.files, before.files);
  if (file !== undefined) return `file changed: ${file}`;
  const arg = firstDiff(now.args, before.args);
  if (arg !== undefined) return `build arg changed: ${arg}`;
  const env = firstDiff(now.env, before.env);
  if (env !== undefined) return `env changed: ${env}`;
  if (now.instruction !== before.instruction) return 'instruction changed';
  return 'no cache record';
}
