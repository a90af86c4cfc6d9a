// The cap on an expanded word: every form that grows a word (concatenation, doubling through variables, nested
// modifiers, quotes, replacement) stops at MAX_EXPANDED_CHARS with EXPANSION_TOO_LONG, and never builds the whole.
import { describe, expect, it } from 'vitest';
import { ExpandError, expandWord, MAX_EXPANDED_CHARS, MAX_NESTING, processWord } from './expand.js';

/** Expands `word` with `env`, returning the error it throws (or undefined). */
function failure(word: string, env: Map<string, string>): ExpandError | undefined {
  try {
    expandWord(word, env);
    return undefined;
  } catch (e) {
    return e as ExpandError;
  }
}

/** Runs `line(i)` the way successive ARG/ENV lines do: each result becomes the variable a{i}. */
function doubling(line: (i: number) => string, lines = 40): { failedAt: number; error: ExpandError | undefined } {
  const env = new Map([['a0', 'x'.repeat(1024)]]);
  for (let i = 1; i <= lines; i++) {
    try {
      env.set(`a${i}`, expandWord(line(i), env));
    } catch (e) {
      return { failedAt: i, error: e as ExpandError };
    }
  }
  return { failedAt: -1, error: undefined };
}

describe('expanded word cap', () => {
  it.each([
    ['${a}${a}', (i: number) => `\${a${i - 1}}\${a${i - 1}}`],
    ['$a$a', (i: number) => `$a${i - 1}$a${i - 1}`],
    ['"${a}${a}"', (i: number) => `"\${a${i - 1}}\${a${i - 1}}"`],
    ['${a:-${a}}${a}', (i: number) => `\${a${i - 1}:-\${a${i - 1}}}\${a${i - 1}}`],
    ['${u:-${a}${a}}', (i: number) => `\${unset:-\${a${i - 1}}\${a${i - 1}}}`],
    ['${a:+${a}${a}}', (i: number) => `\${a${i - 1}:+\${a${i - 1}}\${a${i - 1}}}`],
    ['${a//x/xx}', (i: number) => `\${a${i - 1}//x/xx}`],
  ])('doubling through %s stops at the limit with EXPANSION_TOO_LONG', (_form, line) => {
    const { failedAt, error } = doubling(line);
    expect(error).toBeInstanceOf(ExpandError);
    expect(error!.code).toBe('EXPANSION_TOO_LONG');
    expect(error!.message).toMatch(/longer than 1048576 characters \(1 MiB\)/);
    // 1 KiB doubled: 2^10 * 2^11 passes the cap at the 11th line (the replace form doubles from line 2)
    expect(failedAt).toBeLessThanOrEqual(12);
    // the message names the word as written, not its expansion
    expect(error!.message.length).toBeLessThan(400);
  });

  it('a word of exactly the limit expands; one character more fails', () => {
    const env = new Map([['half', 'y'.repeat(MAX_EXPANDED_CHARS / 2)]]);
    expect(expandWord('${half}${half}', env)).toHaveLength(MAX_EXPANDED_CHARS);
    expect(failure('${half}${half}z', env)?.code).toBe('EXPANSION_TOO_LONG');
  });

  it('a global replacement that multiplies a value stops before building it', () => {
    const env = new Map([['v', 'x'.repeat(1 << 16)]]);
    // 65536 matches of a 64-character replacement would make 4 MiB
    expect(failure(`\${v//x/${'r'.repeat(64)}}`, env)?.code).toBe('EXPANSION_TOO_LONG');
    expect(expandWord(`\${v//x/ab}`, env)).toHaveLength(1 << 17);
  });

  it('other expansion errors carry no code', () => {
    expect(failure('${unset:?needed}', new Map())?.code).toBeUndefined();
    expect(() => processWord('${', new Map())).toThrow(ExpandError);
  });
});

/** `${a:-${a:-…x…}}` nested `depth` deep, optionally with each level in double quotes. */
function nested(depth: number, quoted = false): string {
  let w = 'x';
  for (let i = 0; i < depth; i++) w = quoted ? `"\${a:-${w}}"` : `\${a:-${w}}`;
  return w;
}

describe('substitution nesting limit', () => {
  it('expands nesting up to the limit', () => {
    expect(expandWord(nested(MAX_NESTING), new Map())).toBe('x');
    expect(expandWord(nested(MAX_NESTING, true), new Map())).toBe('x');
  });

  it.each([
    ['one level past the limit', nested(MAX_NESTING + 1)],
    ['10,000 levels (a stack overflow without the limit)', nested(10_000)],
    ['10,000 quoted levels', nested(10_000, true)],
  ])('refuses %s with EXPANSION_TOO_DEEP and a short message', (_name, word) => {
    const e = failure(word, new Map());
    expect(e).toBeInstanceOf(ExpandError);
    expect(e!.code).toBe('EXPANSION_TOO_DEEP');
    expect(e!.reason).toMatch(/nested more than 100 levels/);
    expect(e!.message.length).toBeLessThan(600);
  });
});
