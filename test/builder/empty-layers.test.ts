// Steps that change no file: RUN, COPY, ADD and WORKDIR each commit the empty layer, as BuildKit does (the layer
// count and diff_ids are compared with dockerd's in test/equivalence). Here the bytes a registry receives: the
// empty layer's blob is BuildKit's, and a rebuild from the cache gives the same image.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EMPTY_LAYER_DIFF_ID, EMPTY_LAYER_GZIP_DIGEST } from '../../oci/index.js';
import type { RegistryFixture } from '../fixtures/registry.js';
import { closeBuildEnv, makeBuildEnv } from './helpers/env.js';
import { events, ok, stepResults, type Tsb } from './helpers/tsb.js';

let registry: RegistryFixture;
let root: string;
let work: string;
let tsb: Tsb;

beforeAll(async () => {
  ({ registry, root, work, tsb } = await makeBuildEnv('empty-layers'));
});

afterAll(async () => {
  await closeBuildEnv({ registry, root, work });
});

function inspect(ref: string, config: boolean): Record<string, unknown> {
  const args = ['inspect', '--tls-verify=false', '--raw', ...(config ? ['--config'] : []), `docker://${ref}`];
  return JSON.parse(execFileSync('skopeo', args, { encoding: 'utf8' })) as Record<string, unknown>;
}

describe('steps that change nothing', () => {
  it("push the empty layer as BuildKit's blob, and a cached rebuild pushes the same image", async () => {
    const ctx = join(work, 'ctx');
    await mkdir(join(ctx, 'nothing'), { recursive: true });
    await writeFile(
      join(ctx, 'Buildfile'),
      ['FROM busybox:latest', 'RUN true', 'WORKDIR /tmp', 'COPY nothing/ /tmp/', 'ENV A=1', 'WORKDIR /'].join('\n'),
    );
    const dest = `${registry.host}/empty/layers:1`;
    ok(tsb(['build', '-q', '--push', '-t', dest, ctx]), 'build');
    const manifest = inspect(dest, false) as { layers: { digest: string; size: number }[] };
    const config = inspect(dest, true) as {
      rootfs: { diff_ids: string[] };
      history: { created_by: string; empty_layer?: boolean }[];
    };
    // the base's layer, then RUN, WORKDIR /tmp and COPY: three empty layers; ENV and WORKDIR / have none
    expect(config.rootfs.diff_ids.slice(1)).toEqual([EMPTY_LAYER_DIFF_ID, EMPTY_LAYER_DIFF_ID, EMPTY_LAYER_DIFF_ID]);
    expect(manifest.layers.slice(1).map((l) => [l.digest, l.size])).toEqual(
      Array(3).fill([EMPTY_LAYER_GZIP_DIGEST, 32]),
    );
    expect(config.history.slice(-5).map((h) => h.empty_layer === true)).toEqual([false, false, false, true, true]);

    const again = tsb(['build', '--progress=json', '--push', '-t', `${registry.host}/empty/layers:2`, ctx]);
    ok(again, 'cached rebuild');
    expect(stepResults(events(again.stderr)).filter((s) => !s.cached)).toEqual([]);
    expect(inspect(`${registry.host}/empty/layers:2`, false)).toEqual(manifest);
  });
});
