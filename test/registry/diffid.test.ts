// A pulled image whose config lists a diffID its layer's tar does not hash to fails the pull, and the layer's
// unpacked tree, short link and temp dir are gone: through a real registry, in both unpack modes.
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf } from '../../oci/digest.js';
import { parseReference } from '../../oci/reference.js';
import type { Digest } from '../../oci/types.js';
import { hostPlatform } from '../../oci/index.js';
import { pullImage } from '../../registry-client/api.js';
import { openStore, registryView } from '../../store/index.js';
import { initLayout, skopeoCopy, writeImage, writeIndex, writeLayer } from '../fixtures/images.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { tempDirs } from './helpers.js';

const tmp = tempDirs();
let reg: RegistryFixture;

beforeAll(async () => {
  reg = await startRegistry();
  const layout = await tmp.make();
  await initLayout(layout);
  const rootfs = await tmp.make();
  fs.writeFileSync(join(rootfs, 'payload'), '#!/bin/sh\necho pwned\n');
  fs.chmodSync(join(rootfs, 'payload'), 0o4755);
  const layer = await writeLayer(layout, rootfs);
  // the config names another tar's diffID
  const lie = { ...layer, diffID: digestOf(Buffer.from('not this layer')) as Digest };
  const m = await writeImage(layout, [lie], {}, hostPlatform());
  await writeIndex(layout, [
    {
      mediaType: m.mediaType,
      digest: m.digest,
      size: m.size,
      annotations: { 'org.opencontainers.image.ref.name': 'latest' },
    },
  ]);
  await skopeoCopy(`oci:${layout}:latest`, `docker://${reg.host}/liar:latest`, ['--dest-tls-verify=false']);
}, 120_000);

afterAll(async () => {
  await reg?.stop();
  await tmp.cleanup();
});

describe('a pulled layer that does not match its config diffID', () => {
  it.each(['tee', 'after'] as const)(
    'fails the pull and leaves nothing unpacked (unpack mode %s)',
    async (unpackMode) => {
      const dir = await tmp.make();
      const store = await openStore(join(dir, 'store'));
      try {
        const err = await pullImage(parseReference(`${reg.host}/liar:latest`), registryView(store), {
          insecure: [reg.host],
          unpack: true,
          unpackMode,
          stateDir: dir,
          dockerConfigPath: join(dir, 'none.json'),
        }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(Error);
        expect((err as Error).message).toMatch(
          /unpacks to diffID sha256:[0-9a-f]{64}, but its image config lists sha256:[0-9a-f]{64}/,
        );
        expect(fs.readdirSync(join(store.root, 'layers'))).toEqual([]);
        expect(fs.readdirSync(join(store.root, 'l'))).toEqual([]);
        expect(await store.images.resolve(`${reg.host}/liar:latest`)).toBeUndefined();
      } finally {
        await store.close();
      }
    },
  );
});
