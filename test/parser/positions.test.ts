// Source positions: line and column of each keyword, end lines through continuations, comments and heredocs.
import { describe, expect, it } from 'vitest';
import { parseBuildfile } from '../../parser/parse.js';

const spans = (text: string) => parseBuildfile(text).instructions.map((i) => [i.line, i.column, i.endLine]);

describe('positions', () => {
  it('gives 1-based line and column of the keyword', () => {
    expect(spans('\n\nFROM a\n    RUN x\n\tUSER u\n')).toEqual([
      [3, 1, 3],
      [4, 5, 4],
      [5, 2, 5],
    ]);
  });

  it('counts continuation, comment and empty lines in the end line', () => {
    expect(spans('FROM a\nRUN a \\\n# c\n\n  b \\\n  c\nUSER x\n')).toEqual([
      [1, 1, 1],
      [2, 1, 6],
      [7, 1, 7],
    ]);
  });

  it('counts heredoc bodies and their delimiter in the end line', () => {
    expect(spans('FROM a\nRUN <<A <<B\n1\nA\n2\nB\nUSER x\n')).toEqual([
      [1, 1, 1],
      [2, 1, 6],
      [7, 1, 7],
    ]);
  });

  it('does not count a BOM as a column', () => {
    expect(spans('\uFEFF  FROM a\n')).toEqual([[1, 3, 1]]);
  });

  it('places the ONBUILD trigger where its keyword is', () => {
    const i = parseBuildfile('FROM a\n  ONBUILD  RUN x\n').instructions[1]!;
    expect([i.line, i.column, i.onbuild!.line, i.onbuild!.column]).toEqual([2, 3, 2, 12]);
  });

  it('ends a continuation at the end of the file', () => {
    expect(spans('FROM a\nRUN x \\\n')).toEqual([
      [1, 1, 1],
      [2, 1, 2],
    ]);
  });
});
