// Instruction flags (`--from=build`, `--link`, `--mount=type=cache,target=/x`) as typed values, validated against
// what each instruction accepts, as BuildKit's instructions/ package does.
import type { Instruction } from '../parser/index.js';

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
  get(name: string): string | undefined;
  all(name: string): string[];
  bool(name: string): boolean;
}

/** Parses `ins.flags`; `allowed` lists the flag names (without `--`) the instruction takes. */
export function parseFlags(ins: Instruction, allowed: string[]): ParsedFlags {
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
      const v = values.get(n)?.at(-1);
      if (v === undefined) return false;
      if (v === '' || v === 'true') return true;
      if (v === 'false') return false;
      throw new FlagError(`${ins.keyword}: --${n} expects true or false, got "${v}"`, ins.line);
    },
  };
}

/** `--mount=type=cache,target=/x,ro` → { type: 'cache', target: '/x', ro: 'true' }. */
export function parseCsv(spec: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of spec.split(',')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    out[key] = eq < 0 ? 'true' : part.slice(eq + 1);
  }
  return out;
}
