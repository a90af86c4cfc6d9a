// BuildKit's parser test data: every positive case dumps byte for byte like `result`, every negative case fails,
// and testfile-line keeps BuildKit's line numbers.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BuildfileError } from '../../parser/index.js';
import { parseBuildfile } from '../../parser/parse.js';
import { dumpInstructions } from '../../parser/dump.js';
import { conformanceRoot, subdirs } from './corpus.js';

const base = join(conformanceRoot, 'buildkit-parser', 'parser');
const positive = subdirs(join(base, 'testfiles'));
const negative = subdirs(join(base, 'testfiles-negative'));

describe('buildkit-parser/parser/testfiles', () => {
  it('has the cases FORMAT.md describes', () => {
    expect(positive.length).toBeGreaterThanOrEqual(33);
    expect(negative.length).toBeGreaterThanOrEqual(4);
  });

  // The result files are BuildKit's raw parse tree, which accepts any flag on any instruction (`CMD --doit`) and
  // `HEALTHCHECK CONNECT`; the typed-command checks are therefore off here and tested in test/parser.
  it.each(positive)('%s dumps exactly like result', (name) => {
    const text = readFileSync(join(base, 'testfiles', name, 'Dockerfile'), 'utf8');
    const want = readFileSync(join(base, 'testfiles', name, 'result'), 'utf8');
    const got = dumpInstructions(parseBuildfile(text, `${name}/Dockerfile`, { validate: false }).instructions);
    expect(got).toBe(want);
  });

  it.each(negative)('negative case %s fails to parse', (name) => {
    const text = readFileSync(join(base, 'testfiles-negative', name, 'Dockerfile'), 'utf8');
    expect(() => parseBuildfile(text, `${name}/Dockerfile`, { validate: false })).toThrow(BuildfileError);
    expect(() => parseBuildfile(text, `${name}/Dockerfile`)).toThrow(BuildfileError);
  });
});

describe('buildkit-parser/parser/testfile-line', () => {
  it('keeps start and end lines through continuations, comments and blank lines', () => {
    const text = readFileSync(join(base, 'testfile-line', 'Dockerfile'), 'utf8');
    const r = parseBuildfile(text, 'testfile-line/Dockerfile');
    expect(r.instructions.map((i) => [i.line, i.endLine])).toEqual([
      [5, 5],
      [11, 12],
      [17, 31],
    ]);
    expect(r.instructions[0]!.line).toBe(5);
    expect(r.instructions.at(-1)!.endLine).toBe(31);
  });
});
