// 310 real-world Dockerfiles: each parses (with the typed-command checks on) and has the keyword sequence the
// plain reference split of real-world/README.md gives.
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBuildfile } from '../../parser/parse.js';
import { conformanceRoot, filesUnder } from './corpus.js';
import { referenceKeywords } from './reference-split.js';

const root = join(conformanceRoot, 'real-world');
const files = filesUnder(root)
  .filter((p) => !p.endsWith('.md'))
  .map((p) => relative(root, p));

describe('real-world corpus', () => {
  it('has the 310 files of the README', () => expect(files.length).toBe(310));

  it('the reference split sees continuations, comments and heredocs', () => {
    const text = 'FROM a\nRUN x \\\n# c\n  y\nRUN <<EOF\nFROM not-an-instruction\nEOF\nCOPY <<-"A" /a\n\tbody\n\tA\n';
    expect(referenceKeywords(text)).toEqual(['FROM', 'RUN', 'RUN', 'COPY']);
  });

  it.each(files)('%s', (file) => {
    const text = readFileSync(join(root, file), 'utf8');
    const result = parseBuildfile(text, file);
    const got = result.instructions.map((i) => i.keyword);
    expect(got).toEqual(referenceKeywords(text));
    for (const i of result.instructions) {
      expect(i.line).toBeGreaterThanOrEqual(1);
      expect(i.endLine).toBeGreaterThanOrEqual(i.line);
    }
  });
});
