// Pull and push against the real docker-registry in its three auth configurations, into and out of an OCI layout.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseReference } from '../../oci/reference.js';
import type { ImageManifest } from '../../oci/types.js';
import {
  OciLayout,
  pullImage,
  pushImage,
  RegistryClient,
  RegistryError,
  type TransferProgress,
} from '../../registry-client/api.js';
import { busyboxLayout, seedBusybox } from '../fixtures/images.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { dockerConfig, skopeoInspect, tempDirs } from './helpers.js';

for (const auth of ['none', 'htpasswd', 'token'] as const) {
  describe(`registry with auth=${auth}`, () => {
    let reg: RegistryFixture;
    const tmp = tempDirs();
    const creds = auth === 'none' ? undefined : 'tester:secret';
    let config: string;

    beforeAll(async () => {
      reg = await startRegistry({ auth });
      await seedBusybox(reg.host, 'library/busybox', 'latest', { creds });
      config = await dockerConfig(await tmp.make(), reg.host, creds && 'tester', creds && 'secret');
    });
    afterAll(async () => {
      await reg?.stop();
      await tmp.cleanup();
    });

    it('pulls busybox with every blob verified, then pushes it to another repository that skopeo can read', async () => {
      const layout = await OciLayout.open(await tmp.make());
      const opts = { insecure: [reg.host], dockerConfigPath: config, stateDir: await tmp.make() };
      const pulled = await pullImage(parseReference(`${reg.host}/library/busybox:latest`), layout, opts);
      expect(pulled.name).toBe(`${reg.host}/library/busybox:latest`);
      expect(pulled.config.config.Cmd).toEqual(['/bin/sh']);
      const src = JSON.parse(await readFile(join(await busyboxLayout(), 'index.json'), 'utf8')) as {
        manifests: { digest: string }[];
      };
      expect(pulled.manifestDescriptor.digest).toBe(src.manifests[0]!.digest);
      for (const l of pulled.manifest.layers) expect(await layout.hasBlob(l.digest)).toBe(true);
      expect((await layout.resolve(pulled.name))?.digest).toBe(pulled.manifestDescriptor.digest);

      const events: TransferProgress[] = [];
      const dests = [parseReference(`${reg.host}/copies/busybox:v1`), parseReference(`${reg.host}/copies/busybox:v2`)];
      const { digest } = await pushImage(layout, pulled.manifestDescriptor, dests, {
        ...opts,
        onProgress: (e) => events.push(e),
      });
      expect(digest).toBe(pulled.manifestDescriptor.digest);
      const info = await skopeoInspect(`${reg.host}/copies/busybox:v2`, creds);
      expect(info.Digest).toBe(digest);
      expect(info.Architecture).toBe(pulled.config.architecture);
      // Same registry, blob known from library/busybox: mounted instead of uploaded.
      expect(
        events
          .filter((e) => e.action === 'mount')
          .map((e) => e.digest)
          .sort(),
      ).toEqual([pulled.manifest.config.digest, ...pulled.manifest.layers.map((l) => l.digest)].sort());
    });

    it('pushes an uncompressed layer gzipped, with the manifest rewritten to a new digest', async () => {
      const layout = await OciLayout.open(await tmp.make());
      const pulled = await pullImage(parseReference(`${reg.host}/library/busybox:latest`), layout, {
        insecure: [reg.host],
        dockerConfigPath: config,
      });
      // Make an image whose layer is the uncompressed tar, as the builder commits them.
      const { gunzipSync } = await import('node:zlib');
      const tar = gunzipSync(await layout.readBytes(pulled.manifest.layers[0]!.digest));
      const layer = await layout.putBytes(tar, 'application/vnd.oci.image.layer.v1.tar');
      const manifest: ImageManifest = { ...pulled.manifest, layers: [layer] };
      const mdesc = await layout.putBytes(
        Buffer.from(JSON.stringify(manifest)),
        'application/vnd.oci.image.manifest.v1+json',
      );
      const { digest } = await pushImage(layout, mdesc, [parseReference(`${reg.host}/fresh/image:1`)], {
        insecure: [reg.host],
        dockerConfigPath: config,
        monolithicMax: 1024,
        chunkSize: 256 * 1024,
      });
      expect(digest).not.toBe(mdesc.digest);
      const raw = (await skopeoInspect(`${reg.host}/fresh/image:1`, creds, true)) as unknown as ImageManifest;
      expect(raw.layers[0]!.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
      expect(raw.config.digest).toBe(pulled.manifest.config.digest);
    });

    if (auth !== 'none') {
      it('fails a push without credentials with an error naming registry, repository and what to do', async () => {
        const layout = await OciLayout.open(await tmp.make());
        const pulled = await pullImage(parseReference(`${reg.host}/library/busybox:latest`), layout, {
          insecure: [reg.host],
          dockerConfigPath: config,
        });
        const anon = await dockerConfig(await tmp.make(), reg.host);
        const err = await pushImage(layout, pulled.manifestDescriptor, [parseReference(`${reg.host}/nope/busybox:1`)], {
          insecure: [reg.host],
          dockerConfigPath: anon,
          retries: 0,
        }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(RegistryError);
        const e = err as RegistryError;
        expect(e.registry).toBe(reg.host);
        expect(e.status).toBe(401);
        expect(e.render()).toContain(`tsbuild login ${reg.host}`);
      });

      it('rejects wrong credentials with a RegistryError', async () => {
        const bad = await dockerConfig(await tmp.make(), reg.host, 'tester', 'wrong');
        const layout = await OciLayout.open(await tmp.make());
        const err = await pullImage(parseReference(`${reg.host}/library/busybox:latest`), layout, {
          insecure: [reg.host],
          dockerConfigPath: bad,
          retries: 0,
        }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(RegistryError);
        expect((err as RegistryError).status).toBe(401);
      });
    }

    if (auth === 'token') {
      it('asks the token server for exactly the scopes it needs: pull anonymously, pull+push with credentials', async () => {
        const layout = await OciLayout.open(await tmp.make());
        const anon = await dockerConfig(await tmp.make(), reg.host);
        reg.tokenRequests.length = 0;
        const pulled = await pullImage(parseReference(`${reg.host}/library/busybox:latest`), layout, {
          insecure: [reg.host],
          dockerConfigPath: anon,
        });
        expect(reg.tokenRequests).toEqual([
          {
            user: undefined,
            scopes: ['repository:library/busybox:pull'],
            granted: [{ name: 'library/busybox', actions: ['pull'] }],
          },
        ]);
        reg.tokenRequests.length = 0;
        await pushImage(layout, pulled.manifestDescriptor, [parseReference(`${reg.host}/scoped/busybox:1`)], {
          insecure: [reg.host],
          dockerConfigPath: config,
        });
        expect(reg.tokenRequests[0]).toEqual({
          user: 'tester',
          scopes: ['repository:scoped/busybox:pull,push'],
          granted: [{ name: 'scoped/busybox', actions: ['pull', 'push'] }],
        });
      });

      it('caches a token per scope until it expires: a second pull on the same client asks the token server nothing', async () => {
        const anon = await dockerConfig(await tmp.make(), reg.host);
        const client = new RegistryClient({ insecure: [reg.host], dockerConfigPath: anon });
        try {
          reg.tokenRequests.length = 0;
          const ref = parseReference(`${reg.host}/library/busybox:latest`);
          await pullImage(ref, await OciLayout.open(await tmp.make()), { client });
          await pullImage(ref, await OciLayout.open(await tmp.make()), { client });
          expect(reg.tokenRequests.length).toBe(1);
        } finally {
          client.close();
        }
      });

      it('rejects a missing repository with 404 naming it', async () => {
        const layout = await OciLayout.open(await tmp.make());
        const err = await pullImage(parseReference(`${reg.host}/no/such:tag`), layout, {
          insecure: [reg.host],
          dockerConfigPath: config,
        }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(RegistryError);
        expect((err as RegistryError).status).toBe(404);
        expect((err as RegistryError).repository).toBe('no/such');
      });
    }
  });
}
