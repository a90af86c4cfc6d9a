// The checks BuildKit makes when it turns the AST into typed commands (instructions/parse.go, bflag.go): which
// flags each instruction accepts and how many arguments it needs. The parser runs them so that a Buildfile
// error is reported with its position before anything is built.
import type { Instruction } from './types.js';
import { parseHeredocMarker } from './heredoc.js';
import { FLAGS } from './instructions/flags.js';

export interface Issue {
  message: string;
  /** Index into `instruction.flags` when the issue is about a flag. */
  flag?: number;
  /** The ONBUILD-wrapped instruction the issue is in, when it is there. */
  inner?: boolean;
}

function checkFlags(keyword: string, flags: readonly string[]): Issue | null {
  const spec = FLAGS[keyword] ?? {};
  const used = new Set<string>();
  for (let i = 0; i < flags.length; i++) {
    const arg = flags[i]!;
    if (!arg.startsWith('--')) return { message: `arg should start with -- : ${arg}`, flag: i };
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    const value = eq >= 0 ? arg.slice(eq + 1) : '';
    // own keys only: `--constructor` is no flag
    const kind = Object.hasOwn(spec, name) ? spec[name]!.kind : undefined;
    if (!kind) {
      const known = Object.keys(spec);
      const hint =
        known.length === 0
          ? ` (${keyword} takes no flags)`
          : ` (${keyword} accepts ${known.map((k) => '--' + k).join(', ')})`;
      return { message: `unknown flag: --${name}${hint}`, flag: i };
    }
    if (used.has(name) && kind !== 'strings') return { message: `duplicate flag specified: --${name}`, flag: i };
    used.add(name);
    if (kind === 'bool') {
      if (eq >= 0 && value === '') return { message: `missing a value on flag: --${name}`, flag: i };
      if (!['true', 'false', ''].includes(value.toLowerCase())) {
        return { message: `expecting boolean value for flag --${name}, not: ${value}`, flag: i };
      }
    } else if (eq < 0) return { message: `missing a value on flag: --${name}`, flag: i };
    if (keyword === 'HEALTHCHECK') {
      const bad = name === 'retries' ? checkRetries(value) : checkDuration(name, value);
      if (bad) return { message: bad, flag: i };
    }
  }
  return null;
}

// µ (micro sign) and μ (Greek mu) escaped: esbuild escapes strings for the ASCII bundle, not regular expressions
const DURATION = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+$/;
const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, μs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration, in nanoseconds (null when invalid). */
export function parseGoDuration(s: string): number | null {
  if (s === '0' || s === '+0' || s === '-0') return 0;
  if (!DURATION.test(s)) return null;
  let total = 0;
  for (const m of s.matchAll(/(\d+\.?\d*|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/g))
    total += Number(m[1]) * UNIT_NS[m[2]!]!;
  return s.startsWith('-') ? -total : total;
}

function checkDuration(name: string, value: string): string | null {
  if (value === '') return null;
  const ns = parseGoDuration(value);
  if (ns === null) return `time: invalid duration ${JSON.stringify(value)} in --${name}`;
  if (ns !== 0 && ns < 1e6) return `Interval "${name}" cannot be less than 1ms`;
  return null;
}

function checkRetries(value: string): string | null {
  if (value === '') return null;
  if (!/^[+-]?\d+$/.test(value)) return `invalid --retries value: ${value}`;
  if (Number(value) < 0) return `--retries cannot be negative (${Number(value)})`;
  return null;
}

function isHeredocMarker(word: string): boolean {
  try {
    return parseHeredocMarker(word) !== null;
  } catch {
    return false; // not even a well-formed word, so not a heredoc
  }
}

const exactlyOne = (k: string) => `${k} requires exactly one argument`;
const atLeastOne = (k: string) => `${k} requires at least one argument`;
const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

function checkArgs(i: Instruction): string | null {
  const { keyword: k, args } = i;
  switch (k) {
    case 'FROM':
      if (args.length === 3 && args[1]!.toLowerCase() === 'as') {
        if (!STAGE_NAME.test(args[2]!.toLowerCase())) {
          return `invalid name for build stage: ${JSON.stringify(args[2])}, name can't start with a number or contain symbols`;
        }
        return null;
      }
      return args.length === 1 ? null : 'FROM requires either one or three arguments (FROM image [AS name])';
    case 'ENV':
    case 'LABEL':
      if (args.length === 0) return atLeastOne(k);
      for (let j = 0; j < args.length; j += 3) if (args[j] === '') return `${k} names can not be blank`;
      return null;
    case 'ADD':
    case 'COPY': {
      if (args.length < 2) {
        return `${k} requires at least two arguments, but only ${args.length === 0 ? 'none was' : 'one was'} provided. Destination could not be determined.`;
      }
      if (!i.json && isHeredocMarker(args[args.length - 1]!)) return `${k} cannot accept a heredoc as a destination`;
      return null;
    }
    case 'MAINTAINER':
    case 'WORKDIR':
    case 'USER':
    case 'STOPSIGNAL':
      return args.length === 1 ? null : exactlyOne(k);
    case 'RUN':
    case 'EXPOSE':
    case 'ARG':
      if (args.length === 0) return atLeastOne(k);
      if (k === 'ARG') for (const a of args) if (a.startsWith('=')) return `ARG names can not be blank: ${a}`;
      return null;
    case 'VOLUME':
      if (args.length === 0) return atLeastOne(k);
      for (const a of args) if (a.trim() === '') return 'VOLUME specified can not be an empty string';
      return null;
    case 'SHELL':
      if (args.length === 0) return atLeastOne(k);
      return i.json ? null : 'SHELL requires the arguments to be in JSON form';
    case 'HEALTHCHECK': {
      if (args.length === 0) return atLeastOne(k);
      const type = args[0]!.toUpperCase();
      if (type === 'NONE') return args.length === 1 ? null : 'HEALTHCHECK NONE takes no arguments';
      if (type !== 'CMD') return `Unknown type ${JSON.stringify(type)} in HEALTHCHECK (try CMD)`;
      return args.length > 1 ? null : 'Missing command after HEALTHCHECK CMD';
    }
    case 'ONBUILD': {
      const t = i.onbuild;
      if (!t) return atLeastOne(k);
      if (t.keyword === 'ONBUILD') return "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed";
      if (t.keyword === 'MAINTAINER' || t.keyword === 'FROM') return `${t.keyword} isn't allowed as an ONBUILD trigger`;
      return null;
    }
    default:
      return null; // CMD and ENTRYPOINT may be empty
  }
}

/** The first problem BuildKit would report for this instruction, or null. */
export function validateInstruction(i: Instruction): Issue | null {
  const isNone = i.keyword === 'HEALTHCHECK' && i.args[0]?.toUpperCase() === 'NONE';
  // BuildKit never reads the flags of HEALTHCHECK NONE.
  const flagIssue = isNone ? null : checkFlags(i.keyword, i.flags);
  if (flagIssue) return flagIssue;
  const argIssue = checkArgs(i);
  if (argIssue) return { message: argIssue };
  if (i.onbuild) {
    const inner = validateInstruction(i.onbuild);
    if (inner) return { ...inner, inner: true };
  }
  return null;
}
