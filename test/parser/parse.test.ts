// The parser on each instruction form: arguments split as BuildKit splits them, flags, JSON/shell forms,
// directives, comments, continuations, CRLF, BOM, heredocs, and the JSON contract of the result.
import { describe, expect, it } from 'vitest';
import { type Instruction } from '../../parser/index.js';
import { parseBuildfile } from '../../parser/parse.js';
import { dumpInstruction } from '../../parser/dump.js';

const dump = (text: string) => parseBuildfile(text).instructions.map(dumpInstruction);
const only = (text: string, n = 1): Instruction => parseBuildfile(text).instructions[n]!;

describe('instructions', () => {
  it('reads every instruction with its BuildKit argument split', () => {
    const text = [
      'ARG BASE=alpine:3.19',
      'FROM --platform=$BUILDPLATFORM ${BASE} AS build',
      'MAINTAINER Jane <jane@example.com>',
      'RUN --mount=type=cache,target=/root/.cache --network=none apk add curl',
      'RUN ["sh", "-c", "echo hi"]',
      'CMD ["serve", "--port", "80"]',
      'ENTRYPOINT /bin/entry --flag',
      'SHELL ["/bin/bash", "-o", "pipefail", "-c"]',
      'ENV A=1 B="two words"',
      'ENV LEGACY value with spaces',
      'ARG ONE TWO=2',
      'LABEL org.opencontainers.image.title="x y" version=1',
      'EXPOSE 80/tcp 443',
      'VOLUME /data /logs',
      'VOLUME ["/a", "/b"]',
      'USER app:app',
      'WORKDIR /srv/app',
      'COPY --from=build --chown=1:1 --chmod=755 --link a b /dest/',
      'COPY ["with space", "/dest/"]',
      'ADD --checksum=sha256:abc --keep-git-dir=true https://example.com/x.tgz /x/',
      'HEALTHCHECK --interval=30s --timeout=3s --retries=3 CMD curl -f http://localhost/',
      'HEALTHCHECK NONE',
      'STOPSIGNAL SIGTERM',
      'ONBUILD RUN make',
    ].join('\n');
    expect(dump(text)).toEqual([
      '(arg "BASE=alpine:3.19")',
      '(from ["--platform=$BUILDPLATFORM"] "${BASE}" "AS" "build")',
      '(maintainer "Jane <jane@example.com>")',
      '(run ["--mount=type=cache,target=/root/.cache" "--network=none"] "apk add curl")',
      '(run "sh" "-c" "echo hi")',
      '(cmd "serve" "--port" "80")',
      '(entrypoint "/bin/entry --flag")',
      '(shell "/bin/bash" "-o" "pipefail" "-c")',
      '(env "A" "1" "=" "B" "\\"two words\\"" "=")',
      '(env "LEGACY" "value with spaces" "")',
      '(arg "ONE" "TWO=2")',
      '(label "org.opencontainers.image.title" "\\"x y\\"" "=" "version" "1" "=")',
      '(expose "80/tcp" "443")',
      '(volume "/data" "/logs")',
      '(volume "/a" "/b")',
      '(user "app:app")',
      '(workdir "/srv/app")',
      '(copy ["--from=build" "--chown=1:1" "--chmod=755" "--link"] "a" "b" "/dest/")',
      '(copy "with space" "/dest/")',
      '(add ["--checksum=sha256:abc" "--keep-git-dir=true"] "https://example.com/x.tgz" "/x/")',
      '(healthcheck ["--interval=30s" "--timeout=3s" "--retries=3"] "CMD" "curl -f http://localhost/")',
      '(healthcheck "NONE")',
      '(stopsignal "SIGTERM")',
      '(onbuild (run "make"))',
    ]);
  });

  it('marks the exec form and keeps a broken JSON array as shell form', () => {
    const r = parseBuildfile(
      'FROM a\nCMD ["a", "b"]\nCMD ["unterminated\nCMD [\'single\']\nCMD ["a"] trailing\n',
    ).instructions;
    expect(r.slice(1).map((i) => [i.json, i.args])).toEqual([
      [true, ['a', 'b']],
      [false, ['["unterminated']],
      [false, ["['single']"]],
      [false, ['["a"] trailing']],
    ]);
  });

  it('takes keywords in any case and reports them upper-case', () => {
    expect(parseBuildfile('from alpine\nRuN echo\ncopy a b\n').instructions.map((i) => i.keyword)).toEqual([
      'FROM',
      'RUN',
      'COPY',
    ]);
  });

  it('wraps the ONBUILD trigger as an instruction of its own, with its flags', () => {
    const i = only('FROM a\nONBUILD COPY --from=x /a /b\n');
    expect(i.keyword).toBe('ONBUILD');
    expect(i.args).toEqual([]);
    expect(i.onbuild).toMatchObject({ keyword: 'COPY', flags: ['--from=x'], args: ['/a', '/b'], line: 2, column: 9 });
  });

  it('keeps an ONBUILD trigger as text that parses again, heredoc included', () => {
    const trigger = only('FROM a\nONBUILD RUN <<EOF\necho hi\nEOF\n').onbuild!;
    expect(trigger.original).toBe('RUN <<EOF\necho hi\nEOF');
    const again = parseBuildfile(trigger.original).instructions[0]!;
    expect(again.heredocs).toEqual(trigger.heredocs);
  });

  it('ends the flags at a bare --', () => {
    expect(only('FROM a\nCOPY --link -- --not-a-flag /d\n')).toMatchObject({
      flags: ['--link'],
      args: ['--not-a-flag', '/d'],
    });
  });
});

describe('lines', () => {
  it('joins continuations, dropping comment lines and empty continuation lines inside them', () => {
    const i = only('FROM a\nRUN apt-get update \\\n  # a comment inside\n\n  && apt-get install -y x\n');
    expect(i.args).toEqual(['apt-get update   && apt-get install -y x']);
    expect([i.line, i.endLine]).toEqual([2, 5]);
  });

  it('reads CRLF files, a BOM and trailing whitespace', () => {
    const r = parseBuildfile('\uFEFFFROM alpine   \r\nRUN echo a \\   \r\n  b\r\nWORKDIR /x\t\r\n');
    expect(r.instructions.map(dumpInstruction)).toEqual(['(from "alpine")', '(run "echo a   b")', '(workdir "/x")']);
    expect(r.instructions[0]!.column).toBe(1);
  });

  it('ignores comments anywhere, including indented ones', () => {
    expect(dump('# top\nFROM a\n   # indented\n# RUN not this\nRUN yes\n')).toEqual(['(from "a")', '(run "yes")']);
  });
});

describe('directives', () => {
  it('reads syntax, escape and check at the top', () => {
    const r = parseBuildfile('# syntax=docker/dockerfile:1.7\n# escape=`\n# check=skip=JSONArgsRecommended\nFROM a\n');
    expect(r.directives).toEqual({ syntax: 'docker/dockerfile:1.7', escape: '`', check: 'skip=JSONArgsRecommended' });
  });

  it('uses the backtick escape for continuations and leaves backslashes alone', () => {
    const r = parseBuildfile(
      '# escape=`\nFROM mcr.microsoft.com/windows\nCOPY C:\\src\\app C:\\app\nRUN dir `\n  C:\\\n',
    );
    expect(r.instructions.map(dumpInstruction)).toEqual([
      '(from "mcr.microsoft.com/windows")',
      '(copy "C:\\\\src\\\\app" "C:\\\\app")',
      '(run "dir   C:\\\\")',
    ]);
  });

  it('stops looking for directives after the first other line', () => {
    const r = parseBuildfile('# a comment\n# escape=`\nFROM a\nRUN x \\\n  y\n');
    expect(r.directives.escape).toBe('\\');
    expect(r.instructions[1]!.args).toEqual(['x   y']);
  });
});

describe('heredocs', () => {
  it('reads the body up to the delimiter and keeps it out of the instructions', () => {
    const r = parseBuildfile('FROM a\nRUN <<EOF\nset -e\necho "$HOME"\nEOF\nWORKDIR /\n');
    expect(r.instructions.map((i) => i.keyword)).toEqual(['FROM', 'RUN', 'WORKDIR']);
    expect(r.instructions[1]!.heredocs).toEqual([
      { name: 'EOF', content: 'set -e\necho "$HOME"\n', expand: true, chomp: false },
    ]);
    expect(r.instructions[1]!.endLine).toBe(5);
  });

  it('strips leading tabs for <<- and disables expansion for quoted delimiters', () => {
    const r = parseBuildfile("FROM a\nRUN <<-'EOT'\n\tindented $X\n\t\tmore\n\tEOT\n");
    expect(r.instructions[1]!.heredocs).toEqual([
      { name: 'EOT', content: 'indented $X\nmore\n', expand: false, chomp: true },
    ]);
  });

  it('reads several heredocs on one line, in order', () => {
    const r = parseBuildfile('FROM a\nRUN <<A cat > /a && <<"B" cat > /b\none\nA\ntwo\nB\n');
    expect(r.instructions[1]!.heredocs.map((h) => [h.name, h.content, h.expand])).toEqual([
      ['A', 'one\n', true],
      ['B', 'two\n', false],
    ]);
    expect(r.instructions[1]!.endLine).toBe(6);
  });

  it('takes COPY <<EOF /dest as a heredoc source', () => {
    const i = only('FROM a\nCOPY <<EOF /etc/motd\nwelcome\nEOF\n');
    expect(i.args).toEqual(['<<EOF', '/etc/motd']);
    expect(i.heredocs[0]!.content).toBe('welcome\n');
  });

  it('does not read heredocs for the exec form or other instructions', () => {
    expect(dump('FROM a\nRUN ["cat", "<<EOF"]\nLABEL x=<<EOF\n')).toEqual([
      '(from "a")',
      '(run "cat" "<<EOF")',
      '(label "x" "<<EOF" "=")',
    ]);
  });

  it('normalises CRLF inside the body', () => {
    expect(only('FROM a\r\nRUN <<EOF\r\nline\r\nEOF\r\n').heredocs[0]!.content).toBe('line\n');
  });
});

describe('the --json contract', () => {
  it('has the documented fields with plain JSON values', () => {
    const r = parseBuildfile('FROM a\nCOPY --from=build --chmod=755 a \\\n  b /dest/\n');
    const copy = JSON.parse(JSON.stringify(r.instructions[1])) as Record<string, unknown>;
    expect(copy).toMatchObject({
      keyword: 'COPY',
      line: 2,
      endLine: 3,
      flags: ['--from=build', '--chmod=755'],
      args: ['a', 'b', '/dest/'],
      json: false,
      heredocs: [],
      onbuild: null,
    });
    expect(r.directives).toEqual({ escape: '\\', syntax: null, check: null });
  });

  it('keeps the original source text of an instruction', () => {
    expect(only('FROM a\nRUN a \\\n  b\n').original).toBe('RUN a \\\n  b');
  });
});
