// Interop with the other tools of the field: an image pushed by tsbuild is pulled and run by podman and inspected
// by skopeo; what skopeo pushes tsbuild pulls (the index case is in platform.test.ts).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseReference } from '../../oci/reference.js';
import { MediaType, type ImageManifest } from '../../oci/types.js';
import { OciLayout, pushImage } from '../../registry-client/api.js';
import { busyboxLayout } from '../fixtures/images.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { skopeoInspect, tempDirs } from './helpers.js';
import { PODMAN_ULIMITS } from '../fixtures/podman.js';

const run = promisify(execFile);

describe('interop with podman and skopeo', () => {
  let reg: RegistryFixture;
  const tmp = tempDirs();
  const pushedByPodmanTest: string[] = [];

  beforeAll(async () => {
    reg = await startRegistry({ auth: 'htpasswd' });
  });
  afterAll(async () => {
    for (const ref of pushedByPodmanTest) await run('podman', ['rmi', '--force', ref]).catch(() => undefined);
    await reg?.stop();
    await tmp.cleanup();
  });

  it('an image tsbuild pushes (its uncompressed layer gzipped on the way) runs under podman and inspects in skopeo', async () => {
    // Start from the busybox layout but with the layer uncompressed, as the builder commits layers.
    const src = await OciLayout.open(await busyboxLayout());
    const top = await src.resolve('latest');
    const m = JSON.parse((await src.readBytes(top!.digest)).toString()) as ImageManifest;
    const layout = await OciLayout.open(await tmp.make());
    const tar = await layout.putBytes(gunzipSync(await src.readBytes(m.layers[0]!.digest)), MediaType.OciLayer);
    await layout.putBytes(await src.readBytes(m.config.digest), MediaType.OciConfig);
    const mdesc = await layout.putBytes(Buffer.from(JSON.stringify({ ...m, layers: [tar] })), MediaType.OciManifest);

    const ref = `${reg.host}/interop/busybox:podman`;
    const cfgDir = await tmp.make();
    const { writeFile } = await import('node:fs/promises');
    await writeFile(
      `${cfgDir}/config.json`,
      JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from('tester:secret').toString('base64') } } }),
    );
    const { digest } = await pushImage(layout, mdesc, [parseReference(ref)], {
      insecure: [reg.host],
      dockerConfigPath: `${cfgDir}/config.json`,
    });

    const info = await skopeoInspect(ref, 'tester:secret');
    expect(info.Digest).toBe(digest);
    expect((info.Env as string[]).some((e) => e.startsWith('PATH='))).toBe(true);

    pushedByPodmanTest.push(ref);
    await run('podman', ['pull', '--tls-verify=false', '--creds', 'tester:secret', '--quiet', ref]);
    const { stdout } = await run('podman', [
      'run',
      '--rm',
      '--runtime',
      'runc',
      ...PODMAN_ULIMITS,
      '--network',
      'none',
      ref,
      '/bin/sh',
      '-c',
      'echo hello from $(uname -s); ls /bin/busybox',
    ]);
    expect(stdout).toBe('hello from Linux\n/bin/busybox\n');
  });
});
