// The busybox base for the builder's tests, pushed to the test registry as library/busybox:latest. Same recipe as
// test/fixtures/images.ts seedBusybox, except the rootfs's own directory is 0755: makeBusyboxRootfs makes it with
// mkdtemp (0700), and podman applies the layer's `./` entry, so a non-root USER could not reach anything.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostPlatform } from '../../../oci/index.js';
import { makeBusyboxRootfs } from '../../fixtures/busybox.js';
import { DEFAULT_PATH, initLayout, skopeoCopy, writeImage, writeIndex, writeLayer } from '../../fixtures/images.js';

export async function seedBusyboxBase(host: string): Promise<string> {
  const rootfs = await makeBusyboxRootfs();
  const layout = await mkdtemp(join(tmpdir(), 'tsbuild-builder-base-'));
  try {
    await chmod(rootfs, 0o755);
    await initLayout(layout);
    const layer = await writeLayer(layout, rootfs);
    const m = await writeImage(layout, [layer], { Env: [DEFAULT_PATH], Cmd: ['/bin/sh'] }, hostPlatform());
    await writeIndex(layout, [
      {
        mediaType: m.mediaType,
        digest: m.digest,
        size: m.size,
        annotations: { 'org.opencontainers.image.ref.name': 'latest' },
      },
    ]);
    const dest = `${host}/library/busybox:latest`;
    await skopeoCopy(`oci:${layout}:latest`, `docker://${dest}`, ['--dest-tls-verify=false']);
    return dest;
  } finally {
    await rm(rootfs, { recursive: true, force: true });
    await rm(layout, { recursive: true, force: true });
  }
}
