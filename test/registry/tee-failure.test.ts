// A download that fails while one consumer of the tee (blob writer | unpacker) is still setting up must reject the
// pull, not crash the process with an uncaught stream error.
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseReference } from '../../oci/reference.js';
import type { Descriptor } from '../../oci/types.js';
import { pullImage, type PullTarget } from '../../registry-client/api.js';
import { openStore, registryView } from '../../store/index.js';
import { seedBusybox } from '../fixtures/images.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { startFaultProxy } from './fault-proxy.js';
import { tempDirs } from './helpers.js';

/** Collects uncaught exceptions until stopped (vitest would report them, but only after the run). */
function captureUncaught(): { errors: unknown[]; stop(): void } {
  const errors: unknown[] = [];
  const on = (e: unknown): void => void errors.push(e);
  process.on('uncaughtException', on);
  return { errors, stop: () => process.off('uncaughtException', on) };
}

describe('pull with unpack while the download fails', () => {
  let reg: RegistryFixture;
  /** The image's layer blob path: the fault must hit the layer, not the (small) config, whichever is asked first. */
  let layerBlob: RegExp;
  const tmp = tempDirs();
  beforeAll(async () => {
    reg = await startRegistry();
    await seedBusybox(reg.host);
    const res = await fetch(`${reg.url}/v2/library/busybox/manifests/latest`, {
      headers: {
        accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json',
      },
    });
    const manifest = (await res.json()) as { layers: { digest: string }[] };
    layerBlob = new RegExp(`blobs/${manifest.layers[0]!.digest}`);
  });
  afterAll(async () => {
    await reg?.stop();
    await tmp.cleanup();
  });

  it.each([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])('a drop mid-layer rejects, with a real store (round %i)', async (round) => {
    const proxy = await startFaultProxy(reg.url, reg.blobFile);
    const uncaught = captureUncaught();
    try {
      const store = await openStore(await tmp.make());
      proxy.faults.push({
        method: 'GET',
        path: layerBlob,
        action: { kind: 'drop', afterBytes: 100_000 + round * 50_000 },
      });
      const ref = parseReference(`${proxy.host}/library/busybox:latest`);
      await expect(
        pullImage(ref, registryView(store), { insecure: [proxy.host], retries: 0, unpack: true }),
      ).rejects.toThrow();
      await new Promise((r) => setTimeout(r, 50));
      expect(uncaught.errors).toEqual([]);
      await store.close();
    } finally {
      uncaught.stop();
      await proxy.stop();
    }
  });

  it('rejects when the unpacker attaches only after the stream failed', async () => {
    const proxy = await startFaultProxy(reg.url, reg.blobFile);
    const uncaught = captureUncaught();
    try {
      const store = await openStore(await tmp.make());
      proxy.faults.push({ method: 'GET', path: layerBlob, action: { kind: 'drop', afterBytes: 1000 } });
      // The unpacker starts reading only once its stream has been destroyed by the failed download.
      const slowUnpacker: PullTarget = Object.assign(Object.create(registryView(store)) as PullTarget, {
        async unpackLayerStream(layer: Descriptor, src: Readable) {
          if (!src.destroyed) await once(src, 'close');
          return store.layers.unpackStream(layer, src);
        },
      });
      const ref = parseReference(`${proxy.host}/library/busybox:latest`);
      await expect(
        pullImage(ref, slowUnpacker, { insecure: [proxy.host], retries: 0, unpack: true, unpackMode: 'tee' }),
      ).rejects.toThrow();
      await new Promise((r) => setTimeout(r, 100));
      expect(uncaught.errors).toEqual([]);
      await store.close();
    } finally {
      uncaught.stop();
      await proxy.stop();
    }
  });
});
