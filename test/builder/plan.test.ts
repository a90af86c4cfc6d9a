// The build plan: global ARGs before FROM, stage names and dependencies, --target pruning, platform args.
import { describe, expect, it } from 'vitest';
import { parseBuildfile } from '../../parser/parse.js';
import { makePlan } from '../../builder/plan.js';
import { PlanError, type UnsupportedFormError } from '../../builder/errors.js';
import { UsageError } from '../../oci/index.js';

const amd64 = { os: 'linux', architecture: 'amd64' };

function plan(text: string, buildArgs: Record<string, string> = {}, target?: string) {
  return makePlan({
    parsed: parseBuildfile(text, 'Buildfile'),
    buildArgs,
    ...(target ? { target } : {}),
    buildPlatform: amd64,
    targetPlatform: amd64,
  });
}

describe('plan', () => {
  it('expands FROM with global ARGs, build args overriding defaults', () => {
    const text = 'ARG TAG=1.0\nARG REPO=busybox\nFROM ${REPO}:${TAG} AS base\nRUN true\n';
    expect(plan(text).stages[0]!.baseName).toBe('busybox:1.0');
    expect(plan(text, { TAG: '2.0' }).stages[0]!.baseName).toBe('busybox:2.0');
  });

  it('resolves FROM stage-name and COPY --from / RUN --mount from= as dependencies', () => {
    const p = plan(
      'FROM busybox AS a\nRUN true\nFROM busybox AS b\nRUN true\nFROM a AS c\nCOPY --from=b /x /x\nRUN --mount=type=bind,from=1,target=/m true\nFROM scratch\nCOPY --from=c / /\n',
    );
    expect(p.stages[2]!.base).toEqual({ kind: 'stage', stage: 0 });
    expect(p.stages[2]!.dependsOn.sort()).toEqual([0, 1]);
    expect(p.stages[3]!.base).toEqual({ kind: 'scratch' });
    expect(p.needed).toEqual([0, 1, 2, 3]);
  });

  it('--target builds only the stages the target needs', () => {
    const text =
      'FROM busybox AS a\nRUN true\nFROM busybox AS unused\nRUN true\nFROM busybox AS t\nCOPY --from=a /x /x\nFROM t\n';
    const p = plan(text, {}, 't');
    expect(p.target).toBe(2);
    expect(p.needed).toEqual([0, 2]);
    expect(() => plan(text, {}, 'nope')).toThrow(PlanError);
  });

  it('a COPY --from that names no stage is an image dependency', () => {
    const p = plan('FROM busybox\nCOPY --from=alpine:3 /etc/os-release /\n');
    expect(p.stages[0]!.imageDeps).toEqual(['alpine:3']);
    expect(p.stages[0]!.dependsOn).toEqual([]);
  });

  it('predefines the platform args in the global scope', () => {
    const p = plan('FROM busybox\n');
    expect(p.metaArgs.get('TARGETPLATFORM')).toBe('linux/amd64');
    expect(p.metaArgs.get('TARGETARCH')).toBe('amd64');
    expect(p.metaArgs.get('BUILDOS')).toBe('linux');
  });

  it('rejects instructions before FROM other than ARG, and duplicate stage names', () => {
    expect(() => plan('RUN true\nFROM busybox\n')).toThrow(/before the first FROM/);
    expect(() => plan('FROM busybox AS a\nFROM busybox AS a\n')).toThrow(/duplicate stage name/);
  });

  it('refuses a flag BuildKit knows but tsbuild cannot honour, as a usage error naming it, in needed stages', () => {
    const text = 'FROM busybox AS dev\nRUN --device=/dev/fuse true\nFROM busybox\nRUN true\n';
    let err: unknown;
    try {
      plan(text, {}, 'dev');
    } catch (e) {
      err = e;
    }
    // a UsageError: the CLI exits 2 (cli/errors.ts exitCodeFor goes by class)
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).name).toBe('UsageError');
    expect((err as UnsupportedFormError).render()).toBe('Buildfile:2: RUN --device is not supported by tsbuild');
    expect(() => plan(text)).not.toThrow();
    expect(() => plan('FROM busybox\nADD --unpack=false a.tar /x/\n')).toThrow(/ADD --unpack is not supported/);
  });

  it('gives the steps typed instructions', () => {
    const p = plan('FROM busybox\nCOPY --link --from=busybox /a /b\nRUN --network=none true\n');
    expect(p.stages[0]!.from).toMatchObject({ kind: 'from', image: 'busybox' });
    expect(p.stages[0]!.instructions.map((i) => i.kind)).toEqual(['copy', 'run']);
    expect(p.stages[0]!.instructions[0]).toMatchObject({ from: 'busybox', link: true });
  });
});
