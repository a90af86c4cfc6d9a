// `--output` values, parsed once into typed specs with buildx's syntax: one CSV record (Go encoding/csv, so a field
// holding commas is quoted: `type=image,"name=r/a:1,r/b:1"`), each field KEY=VALUE. The keys each type accepts are
// one table (OUTPUT_KEYS below): a key not in its type's table is refused, naming the key and the type, never
// ignored. A new key is a row there (and a row in the README's `-o` table, which test/cli/flag-table.test.ts checks).
//   -o DIR  = type=local,dest=DIR        -o -  = type=tar,dest=-  (a tar of the result on stdout)
import { parseOutputLayers, parseReference, UsageError, type OutputLayers } from '../oci/index.js';
import type { OutputSpec } from './options.js';

export type OutputType = OutputSpec['type'] | 'registry';

/** A refused `--output` value: the CLI exits 2. */
export class OutputSpecError extends UsageError {
  override name = 'OutputSpecError';
  constructor(
    readonly spec: string,
    reason: string,
    hint?: string,
  ) {
    super(`--output "${spec}": ${reason}`, { hint });
  }
}

type SpecOf<T extends OutputType> = Extract<OutputSpec, { type: T extends 'registry' ? 'image' : T }>;

/** One key of one output type: what it means (for messages) and how its value fills the spec (throws a reason). */
export interface OutputKey<S> {
  doc: string;
  set(spec: S, value: string): void;
}

function bool(key: string, value: string): boolean {
  const v = value.toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new Error(`${key}=${value}: expected true or false`);
}

/** `name=a,b` (buildx: comma-separated image names); each must parse as a reference. */
function names(value: string): string[] {
  const list = value
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  if (list.length === 0) throw new Error('name= is empty');
  for (const n of list) {
    try {
      parseReference(n);
    } catch (e) {
      throw new Error(`name=${n}: ${(e as Error).message}`);
    }
  }
  return list;
}

const nameKey = {
  doc: 'image names (comma-separated; quote the field: "name=a:1,b:1")',
  set: (s: { names?: string[] }, v: string) => (s.names = names(v)),
};
const destKey = {
  doc: 'where to write (- is stdout)',
  set: (s: { dest: string }, v: string) => {
    if (v === '') throw new Error('dest= is empty');
    s.dest = v;
  },
};

/**
 * The layer keys (compression=, compression-level=, force-compression=, oci-mediatypes=): each row only admits its
 * key; oci/output-layers.ts reads them together once the record is parsed (a level needs its compression).
 */
const layerKeys = {
  compression: { doc: 'layer compression: gzip (default), zstd, uncompressed', set: () => undefined },
  'compression-level': { doc: 'gzip 0–9, zstd 0–22', set: () => undefined },
  'force-compression': {
    doc: 'recompress layers that have another compression (a base image’s)',
    set: () => undefined,
  },
  'oci-mediatypes': { doc: 'false: Docker media types (zstd keeps OCI ones, with a warning)', set: () => undefined },
};

/** Every key each output type accepts (`type=` itself aside). */
export const OUTPUT_KEYS: { [T in OutputType]: Record<string, OutputKey<SpecOf<T>>> } = {
  image: {
    name: nameKey,
    push: { doc: 'push every name to its registry (as --push)', set: (s, v) => (s.push = bool('push', v)) },
    ...layerKeys,
  },
  registry: {
    name: nameKey,
    push: {
      doc: 'always true (type=registry is type=image,push=true)',
      set: (s, v) => {
        if (!bool('push', v)) throw new Error('push=false contradicts type=registry (use type=image,push=false)');
      },
    },
    ...layerKeys,
  },
  local: { dest: { ...destKey, doc: 'directory to write the final stage’s filesystem to' } },
  tar: { dest: { ...destKey, doc: 'file to write a tar of the final stage’s filesystem to (- is stdout)' } },
  oci: { dest: { ...destKey, doc: 'OCI layout tar to write (- is stdout)' }, name: nameKey, ...layerKeys },
  docker: { dest: { ...destKey, doc: 'docker-archive tar to write (- is stdout)' }, name: nameKey, ...layerKeys },
};

export const OUTPUT_TYPES = Object.keys(OUTPUT_KEYS) as OutputType[];

/**
 * One CSV record as Go's encoding/csv reads it (what buildx parses `--output` with): fields split on commas; a field
 * that starts with `"` is quoted, may hold commas, and `""` in it is one quote; a quote anywhere else is an error.
 */
export function splitCsv(text: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw new Error('a quoted field is not closed');
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += text[i++];
      }
      if (i < text.length && text[i] !== ',') throw new Error(`unexpected text after the quoted field "${field}"`);
    } else {
      const end = text.indexOf(',', i);
      field = text.slice(i, end < 0 ? text.length : end);
      if (field.includes('"')) throw new Error(`a quote inside the unquoted field ${field}`);
      i = end < 0 ? text.length : end;
    }
    fields.push(field);
    if (i >= text.length) return fields;
    i++; // the comma
  }
}

function emptySpec(type: OutputType): OutputSpec {
  switch (type) {
    case 'image':
      return { type: 'image' };
    case 'registry':
      return { type: 'image', push: true };
    case 'local':
    case 'tar':
    case 'oci':
    case 'docker':
      return { type, dest: '' };
  }
}

/** Parses one `--output` value. */
export function parseOutputSpec(text: string): OutputSpec {
  if (text === '') throw new OutputSpecError(text, 'empty');
  // docker's shorthands: a value with neither `=` nor `,` is a directory, `-` the tar on stdout
  if (text === '-') return { type: 'tar', dest: '-' };
  if (!text.includes('=') && !text.includes(',')) return { type: 'local', dest: text };
  let fields: string[];
  try {
    fields = splitCsv(text);
  } catch (e) {
    throw new OutputSpecError(text, `not a CSV record: ${(e as Error).message}`);
  }
  const given = new Map<string, string>();
  for (const f of fields) {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new OutputSpecError(text, `"${f}" is not KEY=VALUE`);
    const key = f.slice(0, eq).trim().toLowerCase();
    if (given.has(key)) throw new OutputSpecError(text, `${key}= is given twice`);
    given.set(key, f.slice(eq + 1));
  }
  const typeText = given.get('type');
  const known = OUTPUT_TYPES.join(', ');
  if (typeText === undefined) throw new OutputSpecError(text, `type= is required (${known})`);
  const type = typeText.toLowerCase() as OutputType;
  if (!OUTPUT_TYPES.includes(type)) throw new OutputSpecError(text, `type=${typeText} is not supported (${known})`);
  const rows = OUTPUT_KEYS[type] as Record<string, OutputKey<OutputSpec>>;
  const spec = emptySpec(type);
  for (const [key, value] of given) {
    if (key === 'type') continue;
    const row = rows[key];
    if (!row) {
      const keys = Object.keys(rows).join(', ');
      throw new OutputSpecError(text, `${key}= is not supported for type=${type} (its keys: type, ${keys})`);
    }
    try {
      row.set(spec, value);
    } catch (e) {
      throw new OutputSpecError(text, (e as Error).message);
    }
  }
  if (spec.type === 'image' || spec.type === 'oci' || spec.type === 'docker') {
    let layers: OutputLayers | undefined;
    try {
      layers = parseOutputLayers(type, Object.fromEntries(given));
    } catch (e) {
      throw new OutputSpecError(text, (e as Error).message, (e as UsageError).hint);
    }
    if (layers) spec.layers = layers;
  }
  return checkDest(text, spec);
}

function checkDest(text: string, spec: OutputSpec): OutputSpec {
  if (spec.type === 'image' || spec.dest !== '') return spec;
  if (spec.type === 'local') throw new OutputSpecError(text, 'type=local needs dest=DIR');
  if (spec.type === 'docker') {
    // buildx loads into the Docker daemon then; tsbuild has none
    throw new OutputSpecError(text, 'type=docker needs dest=FILE (or dest=- for stdout)', 'load it with docker load');
  }
  // buildx: an oci or tar output without dest goes to stdout
  return { ...spec, dest: '-' };
}
