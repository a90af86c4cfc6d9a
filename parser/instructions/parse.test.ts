// The typed layer: flags become fields through the one table, COPY's heredoc sources are matched to their bodies,
// and a flag BuildKit knows but tsbuild cannot honour parses (as in BuildKit) but is listed as unsupported.
import { describe, expect, it } from 'vitest';
import { parseBuildfile } from '../parse.js';
import { FlagError } from './flags.js';
import { toTypedInstruction } from './parse.js';

const typed = (text: string, n = 1) => toTypedInstruction(parseBuildfile(text).instructions[n]!);

describe('toTypedInstruction', () => {
  it('reads RUN flags into fields, the last --network winning and every --mount kept', () => {
    const r = typed('FROM a\nRUN --mount=type=cache,target=/c --network=none --mount=from=b,target=/m make\n');
    expect(r).toMatchObject({
      kind: 'run',
      keyword: 'RUN',
      args: ['make'],
      json: false,
      mounts: ['type=cache,target=/c', 'from=b,target=/m'],
      network: 'none',
      security: undefined,
      unsupported: [],
      range: { line: 2, column: 1, endLine: 2 },
    });
  });

  it('types COPY and ADD flags, and marks heredoc sources with their bodies', () => {
    const c = typed(
      'FROM a\nCOPY --from=build --chmod=644 --link --exclude=*.md <<EOF a.txt <<-"E2" /dst/\nhi\nEOF\nyo\nE2\n',
    );
    if (c.kind !== 'copy') throw new Error(c.kind);
    expect(c).toMatchObject({ from: 'build', chmod: '644', chown: undefined, link: true, parents: false });
    expect(c.exclude).toEqual(['*.md']);
    expect(c.dest).toBe('/dst/');
    expect(c.sources.map((s) => [s.kind, s.word, s.kind === 'heredoc' ? s.heredoc.content : null])).toEqual([
      ['heredoc', '<<EOF', 'hi\n'],
      ['path', 'a.txt', null],
      ['heredoc', '<<-"E2"', 'yo\n'],
    ]);
    const a = typed('FROM a\nADD --checksum=sha256:abc --keep-git-dir=true https://example.com/x.tgz /x/\n');
    expect(a).toMatchObject({ kind: 'copy', keyword: 'ADD', checksum: 'sha256:abc', unsupported: [] });
  });

  it('leaves a marker-looking word of the exec form a path', () => {
    const c = typed('FROM a\nCOPY ["<<EOF", "/x"]\n');
    expect(c.kind === 'copy' && c.sources).toEqual([{ kind: 'path', word: '<<EOF' }]);
  });

  it('lists flags tsbuild cannot honour, which the parser accepts as BuildKit does', () => {
    expect(typed('FROM a\nRUN --device=/dev/fuse true\n').unsupported).toEqual(['--device']);
    expect(typed('FROM a\nADD --unpack=false x.tar /x/\n').unsupported).toEqual(['--unpack']);
  });

  it('types the other families', () => {
    const text =
      'FROM --platform=linux/arm64 img AS Build\nENV A=1 B=2\nARG X Y=2\nCMD ["a"]\nHEALTHCHECK --retries=3 CMD true\nHEALTHCHECK NONE\nWORKDIR /w\nEXPOSE 80 443/udp\nONBUILD RUN x\n';
    const all = parseBuildfile(text).instructions.map(toTypedInstruction);
    expect(all.map((i) => i.kind)).toEqual([
      'from',
      'env',
      'arg',
      'cmd',
      'healthcheck',
      'healthcheck',
      'workdir',
      'expose',
      'onbuild',
    ]);
    expect(all[0]).toMatchObject({ image: 'img', stageName: 'Build', platform: 'linux/arm64' });
    expect(all[1]).toMatchObject({
      pairs: [
        { key: 'A', value: '1' },
        { key: 'B', value: '2' },
      ],
    });
    expect(all[2]).toMatchObject({
      args: [
        { name: 'X', value: undefined },
        { name: 'Y', value: '2' },
      ],
    });
    expect(all[3]).toMatchObject({ args: ['a'], json: true });
    expect(all[4]).toMatchObject({ test: { args: ['true'], json: false }, retries: '3', interval: undefined });
    expect(all[5]).toMatchObject({ test: null });
    expect(all[6]).toMatchObject({ word: '/w' });
    expect(all[7]).toMatchObject({ words: ['80', '443/udp'] });
    expect(all[8]).toMatchObject({ trigger: 'RUN x' });
  });

  it('refuses a flag the instruction does not declare (input the parser did not validate)', () => {
    const node = parseBuildfile('FROM a\nWORKDIR --foo /x\n', 'f', { validate: false }).instructions[1]!;
    expect(() => toTypedInstruction(node)).toThrow(FlagError);
  });
});
