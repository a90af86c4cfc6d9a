// Each Buildfile error: a BuildfileError with file, line, column, message and the source line with a caret.
import { describe, expect, it } from 'vitest';
import { BuildfileError } from '../../parser/index.js';
import { parseBuildfile } from '../../parser/parse.js';

function failure(text: string): BuildfileError {
  try {
    parseBuildfile(text, 'app/Buildfile');
  } catch (e) {
    if (e instanceof BuildfileError) return e;
    throw e;
  }
  throw new Error('expected a BuildfileError, but the Buildfile parsed');
}

const where = (e: BuildfileError) => [e.line, e.column];

describe('errors', () => {
  it('unknown instruction, at its keyword', () => {
    const e = failure('FROM a\n  RUNN echo\n');
    expect(e.reason).toBe('unknown instruction: RUNN (did you mean RUN?)');
    expect(where(e)).toEqual([2, 3]);
    expect(e.file).toBe('app/Buildfile');
    expect(e.sourceLine).toBe('  RUNN echo');
  });

  it('unknown instruction without a close match has no suggestion', () => {
    expect(failure('FROM a\nXYZZY b\n').reason).toBe('unknown instruction: XYZZY');
  });

  it('renders like a compiler: file:line:col, the line, a caret', () => {
    expect(failure('FROM a\n\tWORKDIR --foo /x\n').render()).toBe(
      'app/Buildfile:2:10: unknown flag: --foo (WORKDIR takes no flags)\n\tWORKDIR --foo /x\n\t        ^',
    );
  });

  it('unterminated heredoc, at its marker', () => {
    const e = failure('FROM a\nRUN cat <<EOF\nno end here\n');
    expect(e.reason).toMatch(/^unterminated heredoc EOF/);
    expect(where(e)).toEqual([2, 9]);
  });

  it('bad JSON form: an exec-form array of non-strings', () => {
    const e = failure('FROM a\nCMD [ "echo", [ "nested" ] ]\n');
    expect(e.reason).toBe('when using JSON array syntax, arrays must be comprised of strings only');
    expect(where(e)).toEqual([2, 5]);
    expect(failure('FROM a\nENTRYPOINT ["x", true]\n').reason).toMatch(/strings only/);
  });

  it('bad JSON form: SHELL in shell form', () => {
    expect(failure('FROM a\nSHELL /bin/sh -c\n').reason).toBe('SHELL requires the arguments to be in JSON form');
  });

  it('a flag on an instruction that does not take it, at the flag', () => {
    const wd = failure('FROM a\nWORKDIR --foo /x\n');
    expect(wd.reason).toMatch(/^unknown flag: --foo/);
    expect(where(wd)).toEqual([2, 9]);
    const run = failure('FROM a\nRUN --from=x echo\n');
    expect(run.reason).toMatch(/^unknown flag: --from/);
    expect(where(run)).toEqual([2, 5]);
    expect(failure('FROM a\nCMD --doit ["a"]\n').reason).toMatch(/^unknown flag: --doit/);
  });

  it('a flag on a continuation line is placed on that line', () => {
    const e = failure('FROM a\nCOPY --link \\\n    --nope=1 a b\n');
    expect(where(e)).toEqual([3, 5]);
    expect(e.sourceLine).toBe('    --nope=1 a b');
  });

  it('flag values: missing, not boolean, duplicated', () => {
    expect(failure('FROM a\nCOPY --from a b\n').reason).toBe('missing a value on flag: --from');
    expect(failure('FROM a\nCOPY --link=maybe a b\n').reason).toBe(
      'expecting boolean value for flag --link, not: maybe',
    );
    expect(failure('FROM a\nCOPY --from=x --from=y a b\n').reason).toBe('duplicate flag specified: --from');
    expect(failure('FROM a\nHEALTHCHECK --interval=soon CMD true\n').reason).toMatch(/invalid duration/);
    expect(failure('FROM a\nHEALTHCHECK --retries=-1 CMD true\n').reason).toBe('--retries cannot be negative (-1)');
  });

  it('missing arguments', () => {
    expect(failure('FROM\n').reason).toMatch(/^FROM requires either one or three arguments/);
    expect(failure('FROM a b\n').reason).toMatch(/^FROM requires either one or three arguments/);
    expect(failure('FROM a\nENV\n').reason).toBe('ENV requires at least one argument');
    expect(failure('FROM a\nENV PATH\n').reason).toBe('ENV must have two arguments');
    expect(failure('FROM a\nCOPY a\n').reason).toMatch(
      /^COPY requires at least two arguments, but only one was provided/,
    );
    expect(failure('FROM a\nADD\n').reason).toMatch(/^ADD requires at least two arguments/);
    expect(failure('FROM a\nWORKDIR\n').reason).toBe('WORKDIR requires exactly one argument');
    expect(failure('FROM a\nUSER\n').reason).toBe('USER requires exactly one argument');
    expect(failure('FROM a\nEXPOSE\n').reason).toBe('EXPOSE requires at least one argument');
    expect(failure('FROM a\nHEALTHCHECK CMD\n').reason).toBe('Missing command after HEALTHCHECK CMD');
    expect(failure('FROM a\nONBUILD\n').reason).toBe('ONBUILD requires at least one argument');
  });

  it('other instruction rules BuildKit enforces', () => {
    expect(failure('FROM a\nENV A=1 B\n').reason).toMatch(/can't find = in "B"/);
    expect(failure('FROM a AS 1st\n').reason).toMatch(/^invalid name for build stage/);
    expect(failure('FROM a\nHEALTHCHECK CONNECT tcp\n').reason).toBe('Unknown type "CONNECT" in HEALTHCHECK (try CMD)');
    expect(failure('FROM a\nONBUILD ONBUILD RUN x\n').reason).toMatch(/Chaining ONBUILD/);
    expect(failure('FROM a\nONBUILD FROM b\n').reason).toBe("FROM isn't allowed as an ONBUILD trigger");
    expect(failure('FROM a\nCOPY a <<EOF\nx\nEOF\n').reason).toBe('COPY cannot accept a heredoc as a destination');
  });

  it('bad directives', () => {
    const e = failure('# escape=x\nFROM a\n');
    expect(e.reason).toMatch(/^invalid escape token 'x'/);
    expect(where(e)).toEqual([1, 1]);
    expect(failure('# syntax=a\n# syntax=b\nFROM a\n').reason).toBe('only one syntax parser directive can be used');
  });

  it('a file with no instructions', () => {
    expect(failure('').reason).toBe('file with no instructions');
    expect(failure('# only\n# comments\n\n').reason).toBe('file with no instructions');
  });

  it("the raw parse tree still rejects what BuildKit's parser rejects, and accepts any flag", () => {
    expect(() => parseBuildfile('FROM a\nENV PATH\n', 'f', { validate: false })).toThrow(/ENV must have two arguments/);
    expect(() => parseBuildfile('FROM a\nBOGUS x\n', 'f', { validate: false })).toThrow(/unknown instruction: BOGUS/);
    expect(parseBuildfile('FROM a\nCMD --doit ["a"]\n', 'f', { validate: false }).instructions[1]!.flags).toEqual([
      '--doit',
    ]);
  });
});
