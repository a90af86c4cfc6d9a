// The parser's node → a typed instruction (BuildKit's instructions/parse.go ParseInstruction): flags read once,
// through the declared table, into fields; heredoc markers among COPY's sources matched to their bodies. Pure and
// light (no grammar): a no-op rebuild types the instructions of a cached parse.
import type { Heredoc, Instruction } from '../types.js';
import { parseHeredocMarker } from '../heredoc.js';
import { FlagError, parseFlags, unsupportedFlags, type ParsedFlags } from './flags.js';
import type { CopySource, KeyValue, TypedInstruction } from './types.js';

/** The node as a typed instruction; throws FlagError when a flag or the argument count cannot be read. */
export function toTypedInstruction(ins: Instruction): TypedInstruction {
  const flags = parseFlags(ins);
  const common = {
    keyword: ins.keyword,
    range: { line: ins.line, column: ins.column, endLine: ins.endLine },
    original: ins.original,
    unsupported: unsupportedFlags(ins.keyword, flags),
  };
  const { args } = ins;
  switch (ins.keyword) {
    case 'FROM':
      return { kind: 'from', ...common, ...fromArgs(ins), platform: flags.get('platform') };
    case 'RUN':
      return {
        kind: 'run',
        ...common,
        args,
        json: ins.json,
        heredocs: ins.heredocs,
        heredocScript: ins.heredocs.length === 1 && /^<<-?["']?[A-Za-z0-9_]+["']?$/.test((args[0] ?? '').trim()),
        mounts: flags.all('mount'),
        network: flags.get('network'),
        security: flags.get('security'),
      };
    case 'COPY':
    case 'ADD':
      return { kind: 'copy', ...common, keyword: ins.keyword, ...copyArgs(ins), ...copyFlags(flags) };
    case 'ENV':
      return { kind: 'env', ...common, pairs: keyValues(args), legacy: legacyKeyValue(args) };
    case 'LABEL':
      return { kind: 'label', ...common, pairs: keyValues(args), legacy: legacyKeyValue(args) };
    case 'ARG':
      return { kind: 'arg', ...common, args: args.map(argPair) };
    case 'CMD':
    case 'ENTRYPOINT':
      return { kind: ins.keyword === 'CMD' ? 'cmd' : 'entrypoint', ...common, args, json: ins.json };
    case 'SHELL':
      return { kind: 'shell', ...common, shell: args, json: ins.json };
    case 'WORKDIR':
    case 'USER':
    case 'STOPSIGNAL':
      return { kind: WORD_KINDS[ins.keyword], ...common, word: args[0] ?? '' };
    case 'MAINTAINER':
      return { kind: 'maintainer', ...common, word: args.join(' ') };
    case 'EXPOSE':
    case 'VOLUME':
      return { kind: ins.keyword === 'EXPOSE' ? 'expose' : 'volume', ...common, words: args, json: ins.json };
    case 'HEALTHCHECK':
      return {
        kind: 'healthcheck',
        ...common,
        test: (args[0] ?? '').toUpperCase() === 'NONE' ? null : { args: args.slice(1), json: ins.json },
        interval: flags.get('interval'),
        timeout: flags.get('timeout'),
        startPeriod: flags.get('start-period'),
        startInterval: flags.get('start-interval'),
        retries: flags.get('retries'),
      };
    case 'ONBUILD':
      return {
        kind: 'onbuild',
        ...common,
        trigger: ins.original.replace(/^\s*ONBUILD\s+/i, ''),
        heredocs: ins.heredocs,
      };
    default:
      throw new FlagError(`unsupported instruction ${ins.keyword}`, ins.line);
  }
}

const WORD_KINDS = { WORKDIR: 'workdir', USER: 'user', STOPSIGNAL: 'stopsignal' } as const;

function fromArgs(ins: Instruction): { image: string; stageName: string | undefined } {
  const a = ins.args;
  if (a.length === 3 && a[1]!.toLowerCase() === 'as') return { image: a[0]!, stageName: a[2]! };
  if (a.length !== 1)
    throw new FlagError('FROM requires either one or three arguments (FROM image [AS name])', ins.line);
  return { image: a[0]!, stageName: undefined };
}

/** `ARG name[=value]` word → name and value (undefined without `=`). */
function argPair(word: string): { name: string; value: string | undefined } {
  const eq = word.indexOf('=');
  return eq < 0 ? { name: word, value: undefined } : { name: word.slice(0, eq), value: word.slice(eq + 1) };
}

/** ENV/LABEL triples `name, value, separator` → pairs. */
function keyValues(a: string[]): KeyValue[] {
  const out: KeyValue[] = [];
  for (let i = 0; i + 1 < a.length; i += 3) out.push({ key: a[i]!, value: a[i + 1]! });
  return out;
}

/** The parser marks the legacy `name value` form with an empty separator (BuildKit's NoDelim). */
function legacyKeyValue(a: string[]): boolean {
  return a.length >= 3 && a[2] === '';
}

function copyArgs(ins: Instruction): { sources: CopySource[]; dest: string; json: boolean; heredocs: Heredoc[] } {
  if (ins.args.length < 2)
    throw new FlagError(`${ins.keyword} requires at least two arguments, but only ${ins.args.length} given`, ins.line);
  const sources = ins.args.slice(0, -1).map((word): CopySource => {
    const heredoc = ins.json ? undefined : heredocNamed(ins.heredocs, word);
    return heredoc ? { kind: 'heredoc', word, heredoc } : { kind: 'path', word };
  });
  return { sources, dest: ins.args.at(-1)!, json: ins.json, heredocs: ins.heredocs };
}

/** The heredoc a source word marks (`<<EOF`, `<<-"EOF"`), as the parser found the markers; else undefined. */
function heredocNamed(heredocs: readonly Heredoc[], word: string): Heredoc | undefined {
  if (heredocs.length === 0 || !word.includes('<<')) return undefined;
  let marker;
  try {
    marker = parseHeredocMarker(word);
  } catch {
    return undefined; // not even a well-formed word, so not a marker
  }
  return marker ? heredocs.find((h) => h.name === marker.name) : undefined;
}

function copyFlags(flags: ParsedFlags) {
  return {
    from: flags.get('from'),
    chown: flags.get('chown'),
    chmod: flags.get('chmod'),
    link: flags.bool('link'),
    parents: flags.bool('parents'),
    exclude: flags.all('exclude'),
    checksum: flags.get('checksum'),
    keepGitDir: flags.bool('keep-git-dir'),
  };
}
