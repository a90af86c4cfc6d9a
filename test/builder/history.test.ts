// created_by in the current BuildKit's form where the dockerd test/equivalence starts (BuildKit 0.8) writes an older
// one: ARG shows the value in effect, COPY its --chown/--chmod (never --from), HEALTHCHECK its start interval.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RegistryFixture } from '../fixtures/registry.js';
import { closeBuildEnv, makeBuildEnv } from './helpers/env.js';
import { ok, type Tsb } from './helpers/tsb.js';

let registry: RegistryFixture;
let root: string;
let work: string;
let tsb: Tsb;

beforeAll(async () => {
  ({ registry, root, work, tsb } = await makeBuildEnv('history'));
});

afterAll(async () => {
  await closeBuildEnv({ registry, root, work });
});

describe('history', () => {
  it("writes ARG, COPY and HEALTHCHECK as the current BuildKit's dockerfile2llb does", async () => {
    const ctx = join(work, 'ctx');
    await mkdir(ctx, { recursive: true });
    await writeFile(join(ctx, 'x'), 'x\n');
    await writeFile(
      join(ctx, 'Buildfile'),
      [
        'ARG GLOBAL=g',
        'FROM busybox:latest AS src',
        'FROM busybox:latest',
        'ARG GLOBAL',
        'ARG GIVEN=default',
        'ARG SUB=${GIVEN}-x UNSET',
        'COPY --chown=1:2 --chmod=600 x /x',
        'COPY --from=src /etc/passwd /p',
        'HEALTHCHECK --interval=1m --start-interval=5s CMD true',
      ].join('\n'),
    );
    const dest = `${registry.host}/history/img:1`;
    ok(tsb(['build', '-q', '--push', '--build-arg', 'GIVEN=cli', '-t', dest, ctx]), 'build');
    const args = ['inspect', '--tls-verify=false', '--raw', '--config', `docker://${dest}`];
    const config = JSON.parse(execFileSync('skopeo', args, { encoding: 'utf8' })) as {
      history: { created_by: string }[];
    };
    expect(config.history.slice(-6).map((h) => h.created_by)).toEqual([
      'ARG GLOBAL=g',
      'ARG GIVEN=cli',
      'ARG SUB=cli-x UNSET',
      'COPY --chown=1:2 --chmod=600 x /x # buildkit',
      'COPY /etc/passwd /p # buildkit',
      'HEALTHCHECK &{["CMD-SHELL" "true"] "1m0s" "0s" "0s" "5s" \'\\x00\'}',
    ]);
  });
});
