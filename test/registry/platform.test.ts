// Manifest lists / OCI indexes pushed by `skopeo copy --all`: tsbuild picks the platform asked for (variant rules
// for arm included), or the host's by default.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseReference } from '../../oci/reference.js';
import { gunzipSync } from 'node:zlib';
import { hostPlatform, parsePlatform } from '../../oci/index.js';
import { OciLayout, pullImage, pushImage, RegistryError } from '../../registry-client/api.js';
import { seedMultiPlatform, type MultiPlatformSeed } from '../fixtures/images.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { skopeoInspect, tempDirs } from './helpers.js';

describe('multi-platform index', () => {
  let reg: RegistryFixture;
  let seed: MultiPlatformSeed;
  const tmp = tempDirs();

  beforeAll(async () => {
    reg = await startRegistry();
    seed = await seedMultiPlatform(reg.host);
  });
  afterAll(async () => {
    await reg?.stop();
    await tmp.cleanup();
  });

  async function pull(
    platform?: string,
  ): Promise<{ digest: string; file: string; layout: OciLayout; name: string; index?: string }> {
    const layout = await OciLayout.open(await tmp.make());
    const r = await pullImage(parseReference(seed.ref), layout, {
      insecure: [reg.host],
      ...(platform ? { platform: parsePlatform(platform) } : {}),
    });
    const tar = gunzipSync(await layout.readBytes(r.manifest.layers[0]!.digest)).toString('latin1');
    const file = /linux\/[a-z0-9]+(?:\/v\d)?\n/.exec(tar)?.[0]?.trim() ?? '';
    return { digest: r.manifestDescriptor.digest, file, layout, name: r.name, index: r.index?.digest };
  }

  it.each([
    ['linux/amd64', 'linux/amd64'],
    ['linux/arm64', 'linux/arm64/v8'],
    ['linux/arm64/v8', 'linux/arm64/v8'],
    ['linux/arm/v7', 'linux/arm/v7'],
    ['linux/arm', 'linux/arm/v7'],
    ['linux/arm/v6', 'linux/arm/v6'],
    ['linux/s390x', 'linux/s390x'],
  ])('--platform %s selects the %s manifest', async (want, got) => {
    const r = await pull(want);
    expect(r.digest).toBe(seed.manifests[got]);
    expect(r.file).toBe(got);
    expect(r.index).toBe(seed.indexDigest);
  });

  it("defaults to the host's platform and tags the platform manifest, keeping the index", async () => {
    const host = hostPlatform();
    const key = `${host.os}/${host.architecture}${host.variant ? `/${host.variant}` : ''}`;
    const r = await pull();
    expect(r.digest).toBe(seed.manifests[key]);
    expect((await r.layout.resolve(r.name))?.digest).toBe(r.digest);
    expect(await r.layout.hasBlob(seed.indexDigest)).toBe(true);
  });

  it('fails clearly for a platform the index lacks, listing the ones it has', async () => {
    const err = await pull('linux/ppc64le').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).render()).toContain('linux/arm/v7');
  });

  it('pulls every platform with allPlatforms and tags the index', async () => {
    const layout = await OciLayout.open(await tmp.make());
    const r = await pullImage(parseReference(seed.ref), layout, { insecure: [reg.host], allPlatforms: true });
    for (const d of Object.values(seed.manifests)) expect(await layout.hasBlob(d)).toBe(true);
    expect((await layout.resolve(r.name))?.digest).toBe(seed.indexDigest);
  });

  it('pushes a whole index back (children first, then the index under its tag) and skopeo sees the same index', async () => {
    const layout = await OciLayout.open(await tmp.make());
    const r = await pullImage(parseReference(seed.ref), layout, { insecure: [reg.host], allPlatforms: true });
    const top = (await layout.resolve(r.name))!;
    const { digest } = await pushImage(layout, top, [parseReference(`${reg.host}/copies/multi:all`)], {
      insecure: [reg.host],
    });
    expect(digest).toBe(seed.indexDigest);
    const raw = (await skopeoInspect(`${reg.host}/copies/multi:all`, undefined, true)) as {
      manifests: { digest: string }[];
    };
    expect(raw.manifests.map((m) => m.digest).sort()).toEqual(Object.values(seed.manifests).sort());
  });

  it('pulls a platform manifest by digest reference', async () => {
    const layout = await OciLayout.open(await tmp.make());
    const d = seed.manifests['linux/arm64/v8']!;
    const r = await pullImage(parseReference(`${reg.host}/test/multi@${d}`), layout, { insecure: [reg.host] });
    expect(r.manifestDescriptor.digest).toBe(d);
    expect(r.config.architecture).toBe('arm64');
  });
});
