// What a build's `tags`, `push` and `outputs` add up to, decided before the build starts (so a contradiction fails
// at once, not after the steps ran): the names the store tags, the names pushed (one push, the `--push` path, for
// `--push`, `type=registry` and `type=image,push=true` alike) and the files written. As buildx: `-t` names join
// every image, oci and docker output's `name=`; `--push` turns every image output into a push, or adds one.
import { normalizeName, UsageError, type LayerCompression } from '../oci/index.js';
import type { BuildOptions, OutputSpec } from './options.js';

export type FileOutput = Extract<OutputSpec, { dest: string }>;

export interface OutputPlan {
  /** Normalized names the store tags the image with: `-t` and every image output's names. */
  storeNames: string[];
  /** Normalized names pushed to their registries (empty: no push). */
  pushNames: string[];
  /** Directories and archives to write, in the order given; oci/docker `names` resolved. */
  files: FileOutput[];
}

const union = (...lists: string[][]): string[] => [...new Set(lists.flat())];

function describe(o: OutputSpec): string {
  return `-o type=${o.type}${'dest' in o ? `,dest=${o.dest}` : ''}`;
}

export function planOutputs(opts: Pick<BuildOptions, 'tags' | 'push' | 'outputs'>): OutputPlan {
  const tags = union((opts.tags ?? []).map((t) => normalizeName(t)));
  const outputs = opts.outputs ?? [];
  const images = outputs.filter((o): o is Extract<OutputSpec, { type: 'image' }> => o.type === 'image');
  const refused = images.find((o) => o.push === false);
  if (opts.push && refused) {
    throw new UsageError('--push contradicts -o type=image,push=false', {
      hint: 'drop --push to keep the image local, or push=false to push it',
    });
  }
  const namesOf = (o: { names?: string[] }): string[] =>
    union(
      (o.names ?? []).map((n) => normalizeName(n)),
      tags,
    );
  const storeNames = union(tags, ...images.map(namesOf));
  const pushed = images.filter((o) => o.push === true || opts.push);
  const pushNames = union(...pushed.map(namesOf), opts.push ? tags : []);
  if ((opts.push || pushed.length > 0) && pushNames.length === 0) {
    throw new UsageError(`${opts.push ? '--push' : '-o type=registry (or push=true)'} has no name to push to`, {
      hint: 'name the image with -t NAME or name=NAME',
    });
  }
  if (pushNames.length === 0 && images.some((o) => o.layers)) {
    throw new UsageError('-o type=image compression keys apply to a push, and this build pushes nothing', {
      hint: 'add --push (or push=true), or drop the compression keys',
    });
  }
  const files: FileOutput[] = [];
  for (const o of outputs) {
    if (o.type === 'image') continue;
    if (o.type === 'local' && o.dest === '-') {
      throw new UsageError('-o type=local,dest=- would write a directory named -', {
        hint: 'for a tar of the result on stdout, use -o - (type=tar,dest=-)',
      });
    }
    files.push(o.type === 'oci' || o.type === 'docker' ? { ...o, names: namesOf(o) } : o);
  }
  const toStdout = files.filter((o) => o.dest === '-');
  if (toStdout.length > 1) {
    throw new UsageError(`${toStdout.map(describe).join(' and ')} both write to stdout`, {
      hint: 'give all but one of them dest=FILE',
    });
  }
  return { storeNames, pushNames, files };
}

/** The compression a push will give layers (`-o type=image,compression=…`): attestations name that manifest. */
export function pushCompression(opts: BuildOptions): { compression?: LayerCompression } {
  const layers = (opts.outputs ?? []).flatMap((o) => (o.type === 'image' && o.layers ? [o.layers] : []))[0];
  return layers?.compression ? { compression: layers.compression } : {};
}
