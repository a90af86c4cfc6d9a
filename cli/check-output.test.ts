// The check report's excerpt is BuildKit's errdefs Source.Print: two lines either side of a one-line range, one
// either side of a longer one, clipped to the file, the range marked `>>>`.
import { describe, expect, it } from 'vitest';
import { formatBuildWarnings, sourceExcerpt } from './check-output.js';

const lines = ['FROM a', 'RUN 1', 'RUN 2', 'ENV A \\', '  1', 'RUN 3', 'RUN 4', ''];

describe('check output', () => {
  it('quotes two lines around a one-line range, one around a longer one', () => {
    expect(sourceExcerpt('Dockerfile', lines, 3, 3)).toEqual([
      'Dockerfile:3',
      '--------------------',
      '   1 |     FROM a',
      '   2 |     RUN 1',
      '   3 | >>> RUN 2',
      '   4 |     ENV A \\',
      '   5 |       1',
      '--------------------',
    ]);
    expect(sourceExcerpt('Dockerfile', lines, 4, 5).slice(2, -1)).toEqual([
      '   3 |     RUN 2',
      '   4 | >>> ENV A \\',
      '   5 | >>>   1',
      '   6 |     RUN 3',
    ]);
  });

  it('clips at the ends of the file', () => {
    expect(sourceExcerpt('f', lines, 1, 1).slice(2, -1)).toEqual([
      '   1 | >>> FROM a',
      '   2 |     RUN 1',
      '   3 |     RUN 2',
    ]);
    expect(sourceExcerpt('f', lines, 7, 7).slice(2, -1)).toEqual([
      '   5 |       1',
      '   6 |     RUN 3',
      '   7 | >>> RUN 4',
      '   8 |     ',
    ]);
    expect(sourceExcerpt('f', lines, 0, 0)).toEqual([]);
  });

  it('says one warning in the singular, and prints nothing without any', () => {
    const w = { rule: 'MaintainerDeprecated', message: 'm', url: 'https://x/', line: 2, endLine: 2 };
    expect(formatBuildWarnings([w], false)).toBe(
      '\n 1 warning found (use tsbuild --debug to expand):\n - MaintainerDeprecated: m (line 2)\n',
    );
    expect(formatBuildWarnings([], false)).toBe('');
  });
});
