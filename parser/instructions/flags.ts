// The one table of instruction flags (BuildKit's instructions/bflag.go declares them per command): the parser
// validates against it, and the typed layer reads values through it. A flag BuildKit knows but tsbuild cannot
// honour is declared `unsupported`: it parses (so `tsbuild parse` agrees with BuildKit), and a build refuses it.
import type { Instruction } from '../types.js';

export type FlagKind = 'string' | 'bool' | 'strings';

export interface FlagSpec {
  kind: FlagKind;
  /** Known to BuildKit, not honoured by tsbuild: a build that needs it fails (exit 2) naming it. */
  unsupported?: true;
}

const str: FlagSpec = { kind: 'string' };
const bool: FlagSpec = { kind: 'bool' };
const strs: FlagSpec = { kind: 'strings' };

export const FLAGS: Readonly<Record<string, Readonly<Record<string, FlagSpec>>>> = {
  FROM: { platform: str },
  RUN: { mount: strs, network: str, security: str, device: { kind: 'strings', unsupported: true } },
  COPY: { from: str, chown: str, chmod: str, link: bool, parents: bool, exclude: strs },
  ADD: {
    chown: str,
    chmod: str,
    link: bool,
    // only for Git URLs (builder/sources/git.ts)
    'keep-git-dir': bool,
    checksum: str,
    exclude: strs,
    // BuildKit unpacks (or not) archives by it, local and remote; tsbuild always unpacks local ones only
    unpack: { kind: 'bool', unsupported: true },
  },
  HEALTHCHECK: { interval: str, timeout: str, 'start-period': str, 'start-interval': str, retries: str },
};

/** The flags an instruction accepts (empty for most). */
export function allowedFlags(keyword: string): readonly string[] {
  return Object.hasOwn(FLAGS, keyword) ? Object.keys(FLAGS[keyword]!) : [];
}

/** A flag that cannot be read as declared; `line` is the instruction's. */
export class FlagError extends Error {
  override name = 'FlagError';
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

export interface ParsedFlags {
  values: Map<string, string[]>;
  /** The last value given. */
  get(name: string): string | undefined;
  all(name: string): string[];
  bool(name: string): boolean;
}

/**
 * Reads `ins.flags` (`--name[=value]`, as the parser keeps them); `allowed` lists the names (without `--`) the
 * instruction takes, by default those the table declares for it.
 */
export function parseFlags(
  ins: Pick<Instruction, 'keyword' | 'flags' | 'line'>,
  allowed: readonly string[] = allowedFlags(ins.keyword),
): ParsedFlags {
  const values = new Map<string, string[]>();
  for (const f of ins.flags) {
    const m = /^--([A-Za-z][A-Za-z0-9-]*)(?:=([\s\S]*))?$/.exec(f);
    if (!m) throw new FlagError(`${ins.keyword}: malformed flag "${f}"`, ins.line);
    const name = m[1]!.toLowerCase();
    if (!allowed.includes(name)) throw new FlagError(`${ins.keyword}: unknown flag: --${name}`, ins.line);
    const list = values.get(name) ?? [];
    list.push(m[2] ?? '');
    values.set(name, list);
  }
  return {
    values,
    get: (n) => values.get(n)?.at(-1),
    all: (n) => values.get(n) ?? [],
    bool: (n) => {
      const v = values.get(n)?.at(-1)?.toLowerCase();
      if (v === undefined) return false;
      if (v === '' || v === 'true') return true;
      if (v === 'false') return false;
      throw new FlagError(`${ins.keyword}: --${n} expects true or false, got "${values.get(n)!.at(-1)!}"`, ins.line);
    },
  };
}

/** The flags given that the table declares unsupported, as `--name`, in order, once each. */
export function unsupportedFlags(keyword: string, flags: ParsedFlags): string[] {
  const spec = FLAGS[keyword] ?? {};
  return [...flags.values.keys()].filter((n) => Object.hasOwn(spec, n) && spec[n]!.unsupported).map((n) => `--${n}`);
}
