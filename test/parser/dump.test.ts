// The dump format of BuildKit's parser tests: Go-quoted strings, flags in brackets, ONBUILD nested.
import { describe, expect, it } from 'vitest';
import { parseBuildfile } from '../../parser/parse.js';
import { dumpInstruction, dumpInstructions } from '../../parser/dump.js';
import { goQuote } from '../../parser/quote.js';

describe('goQuote (Go strconv.Quote)', () => {
  it('escapes quotes, backslashes and control characters', () => {
    expect(goQuote('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(goQuote('\n\t\r\b\f\v\x07')).toBe('"\\n\\t\\r\\b\\f\\v\\a"');
    expect(goQuote('\x00\x1b\x7f')).toBe('"\\x00\\x1b\\x7f"');
  });

  it('keeps printable Unicode and escapes the rest', () => {
    expect(goQuote('♥ ☃ 한국어 é')).toBe('"♥ ☃ 한국어 é"');
    expect(goQuote('\u00a0\u200b')).toBe('"\\u00a0\\u200b"');
    expect(goQuote('\u{e0001}')).toBe('"\\U000e0001"');
  });
});

describe('dumpInstruction', () => {
  it('lower-cases the keyword, brackets the flags, nests ONBUILD', () => {
    const r = parseBuildfile('FROM a\nONBUILD COPY --from=x --link a b\nCMD []\n', 'f', { validate: false });
    expect(r.instructions.map(dumpInstruction)).toEqual([
      '(from "a")',
      '(onbuild (copy ["--from=x" "--link"] "a" "b"))',
      '(cmd)',
    ]);
    expect(dumpInstructions(r.instructions)).toBe(
      '(from "a")\n(onbuild (copy ["--from=x" "--link"] "a" "b"))\n(cmd)\n',
    );
  });
});
