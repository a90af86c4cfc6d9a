// Each rule fires where BuildKit's does, with BuildKit's message, and stays quiet on the form BuildKit accepts.
import { describe, expect, it } from 'vitest';
import { parseBuildfile } from '../parse.js';
import { toTypedInstruction } from '../instructions/parse.js';
import { emptyCheckConfig, parseCheckOptions, CheckOptionError } from './config.js';
import { formatShort, runChecks } from './index.js';

function check(text: string, opts: { reached?: number[]; check?: string } = {}) {
  const parsed = parseBuildfile(text);
  return runChecks({
    instructions: parsed.instructions.map(toTypedInstruction),
    escapeToken: parsed.directives.escape,
    config: opts.check !== undefined ? parseCheckOptions(opts.check) : emptyCheckConfig(),
    ...(opts.reached ? { reached: new Set(opts.reached) } : {}),
  });
}
const short = (text: string, opts?: Parameters<typeof check>[1]) => check(text, opts).map(formatShort);

describe('build checks', () => {
  it('FromAsCasing: the AS keyword against the FROM keyword', () => {
    expect(short('FROM alpine as base\nRUN true\n')).toEqual([
      "FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)",
    ]);
    expect(short('from alpine AS base\nrun true\n')).toEqual([
      "FromAsCasing: 'AS' and 'from' keywords' casing do not match (line 1)",
    ]);
    expect(short('FROM alpine AS base\nRUN true\n')).toEqual([]);
    // across continuation lines, comment lines between
    expect(short('FROM alpine \\\n  As\\\n# c\n  base\n')).toEqual([
      "FromAsCasing: 'As' and 'FROM' keywords' casing do not match (line 1)",
    ]);
    expect(short('from alpine as base\nrun true\n')).toEqual([]);
  });

  it('StageNameCasing, DuplicateStageName, ReservedStageName', () => {
    expect(short('FROM a AS Build\nFROM b AS build\nFROM c AS scratch\n')).toEqual([
      "StageNameCasing: Stage name 'Build' should be lowercase (line 1)",
      'DuplicateStageName: Duplicate stage name "build", stage names should be unique (line 2)',
      'ReservedStageName: Stage name should not use the same name as reserved stage "scratch" (line 3)',
    ]);
    expect(short('FROM a AS build\nFROM b AS test\n')).toEqual([]);
  });

  it('MaintainerDeprecated', () => {
    expect(short('FROM a\nMAINTAINER me <me@example.com>\n')).toEqual([
      'MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label (line 2)',
    ]);
    expect(short('FROM a\nLABEL org.opencontainers.image.authors=me\n')).toEqual([]);
  });

  it('LegacyKeyValueFormat for ENV and LABEL written `key value`', () => {
    expect(short('FROM a\nENV PORT 80\nLABEL version 1\n')).toEqual([
      'LegacyKeyValueFormat: "ENV key=value" should be used instead of legacy "ENV key value" format (line 2)',
      'LegacyKeyValueFormat: "LABEL key=value" should be used instead of legacy "LABEL key value" format (line 3)',
    ]);
    expect(short('FROM a\nENV PORT=80 B="x y"\nLABEL version=1\n')).toEqual([]);
  });

  it('JSONArgsRecommended for shell-form CMD and ENTRYPOINT, unless a SHELL is set', () => {
    expect(short('FROM a\nENTRYPOINT run.sh\nCMD serve 80\n')).toEqual([
      'JSONArgsRecommended: JSON arguments recommended for ENTRYPOINT to prevent unintended behavior related to OS signals (line 2)',
      'JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals (line 3)',
    ]);
    expect(short('FROM a\nCMD ["run.sh"]\n')).toEqual([]);
    expect(short('FROM a\nSHELL ["/bin/bash", "-c"]\nCMD run.sh\n')).toEqual([]);
    // a stage built FROM another inherits its SHELL
    expect(short('FROM a AS base\nSHELL ["/bin/bash", "-c"]\nFROM base\nCMD run.sh\n')).toEqual([]);
  });

  it('MultipleInstructionsDisallowed reports the earlier, ignored instruction', () => {
    expect(short('FROM a\nCMD ["a"]\nCMD ["b"]\nHEALTHCHECK CMD true\nHEALTHCHECK NONE\n')).toEqual([
      'MultipleInstructionsDisallowed: Multiple CMD instructions should not be used in the same stage because only the last one will be used (line 2)',
      'MultipleInstructionsDisallowed: Multiple HEALTHCHECK instructions should not be used in the same stage because only the last one will be used (line 4)',
    ]);
    // one per stage is fine
    expect(short('FROM a\nCMD ["a"]\nFROM b\nCMD ["b"]\n')).toEqual([]);
  });

  it('UndefinedArgInFrom, with a suggestion when a declared name is close', () => {
    expect(short('ARG VERSION=1\nFROM alpine:${VERSIN}\nFROM busybox:$TAG\n')).toEqual([
      // an undeclared variable is empty, which leaves no tag after the colon
      'InvalidDefaultArgInFrom: Default value for ARG alpine:${VERSIN} results in empty or invalid base image name (line 2)',
      "UndefinedArgInFrom: FROM argument 'VERSIN' is not declared (did you mean VERSION?) (line 2)",
      'InvalidDefaultArgInFrom: Default value for ARG busybox:$TAG results in empty or invalid base image name (line 3)',
      "UndefinedArgInFrom: FROM argument 'TAG' is not declared (line 3)",
    ]);
    expect(short('ARG VERSION\nFROM alpine:${VERSION:-3}\nFROM --platform=$BUILDPLATFORM b\n')).toEqual([]);
  });

  it('InvalidDefaultArgInFrom when the meta ARG defaults name no image', () => {
    expect(short('ARG BASE\nARG TAG\nFROM $BASE\nFROM alpine:${TAG}\n')).toEqual([
      'InvalidDefaultArgInFrom: Default value for ARG $BASE results in empty or invalid base image name (line 3)',
      'InvalidDefaultArgInFrom: Default value for ARG alpine:${TAG} results in empty or invalid base image name (line 4)',
    ]);
    expect(
      short(
        'ARG BASE=alpine\nARG TAG=3.20\nFROM $BASE:${TAG} AS a\nFROM --platform=$BUILDPLATFORM golang:1-$TARGETARCH\nFROM a\nFROM registry.example.com:5000/x/y@sha256:' +
          'a'.repeat(64) +
          '\n',
      ),
    ).toEqual([]);
  });

  it('RedundantTargetPlatform and FromPlatformFlagConstDisallowed', () => {
    expect(short('FROM --platform=$TARGETPLATFORM a\nFROM --platform=linux/amd64 b\n')).toEqual([
      'RedundantTargetPlatform: Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior (line 1)',
      'FromPlatformFlagConstDisallowed: FROM --platform flag should not use constant value "linux/amd64" (line 2)',
    ]);
    expect(short('FROM --platform=linux/amd64 b AS build-amd64\nFROM --platform=$BUILDPLATFORM c\n')).toEqual([]);
  });

  it('WorkdirRelativePath for the first WORKDIR of a stage chain only', () => {
    expect(short('FROM a\nWORKDIR app\nWORKDIR sub\n')).toEqual([
      'WorkdirRelativePath: Relative workdir "app" can have unexpected results if the base image changes (line 2)',
    ]);
    expect(short('FROM a AS base\nWORKDIR /app\nFROM base\nWORKDIR sub\n')).toEqual([]);
    expect(short('FROM a\nWORKDIR $HOME/app\n')).toEqual([]);
  });

  it('SecretsUsedInArgOrEnv for stage ARG and ENV keys that name a secret', () => {
    expect(short('FROM a\nARG GITHUB_TOKEN\nENV DB_PASSWORD=x AWS_KEY=y\n')).toEqual([
      'SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ARG "GITHUB_TOKEN") (line 2)',
      'SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ENV "DB_PASSWORD") (line 3)',
      'SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ENV "AWS_KEY") (line 3)',
    ]);
    expect(short('FROM a\nARG PUBLIC_KEY\nENV KEYBOARD=us TOKENIZER=x\n')).toEqual([]);
  });

  it('UndefinedVar in stages that start from scratch, with a suggestion', () => {
    expect(short('FROM scratch\nENV APP_HOME=/app\nWORKDIR $APP_HOM\nCOPY a $DEST/\n')).toEqual([
      "UndefinedVar: Usage of undefined variable '$APP_HOM' (did you mean $APP_HOME?) (line 3)",
      "UndefinedVar: Usage of undefined variable '$DEST' (line 4)",
    ]);
    // ARG declares (even without a value), ENV defines, a stage built FROM another inherits both
    expect(short('FROM scratch AS a\nARG V\nENV P=/p\nFROM a\nCOPY x $P/$V\nLABEL l=$PATH\n')).toEqual([]);
    // the environment of an image from a registry is not known: nothing is said
    expect(short('FROM alpine\nWORKDIR $HOME\n')).toEqual([]);
  });

  it('ExposeProtoCasing and ExposeInvalidFormat', () => {
    expect(short('FROM a\nEXPOSE 80/TCP 8080:80 127.0.0.1:53:53/udp\n')).toEqual([
      "ExposeProtoCasing: Defined protocol '80/TCP' in EXPOSE instruction should be lowercase (line 2)",
      "ExposeInvalidFormat: EXPOSE instruction should not define an IP address or host-port mapping, found '8080:80' (line 2)",
      "ExposeInvalidFormat: EXPOSE instruction should not define an IP address or host-port mapping, found '127.0.0.1:53:53/udp' (line 2)",
    ]);
    expect(short('FROM a\nEXPOSE 80 443/tcp 53/udp $PORT\n')).toEqual([]);
  });

  it('ConsistentInstructionCasing against the majority', () => {
    expect(short('FROM a\nRUN x\nrun y\nCopy a b\n')).toEqual([
      "ConsistentInstructionCasing: Command 'run' should match the case of the command majority (uppercase) (line 3)",
      "ConsistentInstructionCasing: Command 'Copy' should match the case of the command majority (uppercase) (line 4)",
    ]);
    expect(short('from a\nrun x\n')).toEqual([]);
  });

  it('looks at the reached stages only for the rules BuildKit runs while dispatching', () => {
    const text = 'FROM a AS unused\nENV A 1\nFROM b\nENV B 2\n';
    expect(check(text, { reached: [1] }).map((w) => w.line)).toEqual([4]);
    expect(check(text).map((w) => w.line)).toEqual([2, 4]);
  });

  it('gives each warning its rule URL and description', () => {
    expect(check('FROM a\nMAINTAINER x\n')[0]).toMatchObject({
      rule: 'MaintainerDeprecated',
      url: 'https://docs.docker.com/go/dockerfile/rule/maintainer-deprecated/',
      line: 2,
      endLine: 2,
    });
  });
});

describe('check options', () => {
  it('skip=Rule,Rule drops those rules; skip=all drops every rule', () => {
    const text = 'FROM a as b\nMAINTAINER x\nENV A 1\n';
    expect(check(text, { check: 'skip=FromAsCasing,MaintainerDeprecated' }).map((w) => w.rule)).toEqual([
      'LegacyKeyValueFormat',
    ]);
    expect(check(text, { check: 'skip=all' })).toEqual([]);
  });

  it('reads error=, and refuses what BuildKit refuses', () => {
    expect(parseCheckOptions('skip=A ; error=true')).toMatchObject({ error: true, skip: new Set(['A']) });
    expect(parseCheckOptions('error=false').error).toBe(false);
    expect(() => parseCheckOptions('error=maybe')).toThrow(CheckOptionError);
    expect(() => parseCheckOptions('skipp=A')).toThrow('invalid check option "skipp"');
    expect(() => parseCheckOptions('skip')).toThrow(CheckOptionError);
  });
});

describe('hostile Buildfiles', () => {
  it('thousands of undeclared variables against thousands of ARGs: every warning, suggestions within a budget', () => {
    const n = 3000;
    let text = '';
    for (let i = 0; i < n; i++) text += `ARG declared_${i}=x\n`;
    text += 'FROM alpine:' + Array.from({ length: n }, (_, i) => `\${declared_${i}x}`).join('') + '\n';
    const warnings = check(text).filter((w) => w.rule === 'UndefinedArgInFrom');
    expect(warnings).toHaveLength(n);
    // the first ones get their suggestion; once the budget is spent the rest come without one
    expect(warnings[0]!.message).toBe("FROM argument 'declared_0x' is not declared (did you mean declared_0?)");
    expect(warnings.at(-1)!.message).toBe(`FROM argument 'declared_${n - 1}x' is not declared`);
  });
});
