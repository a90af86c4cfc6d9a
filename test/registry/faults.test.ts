// Retries, resume and redirects, proven through a fault-injecting proxy in front of the real registry.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseReference } from '../../oci/reference.js';
import type { ImageManifest } from '../../oci/types.js';
import { DigestMismatchError, OciLayout, pullImage, pushImage, RegistryError } from '../../registry-client/api.js';
import { seedBusybox } from '../fixtures/images.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';
import { dockerConfig, skopeoInspect, tempDirs } from './helpers.js';

describe('through a fault-injecting proxy (token auth registry)', () => {
  let reg: RegistryFixture;
  let proxy: FaultProxy;
  let config: string;
  let layerDigest: string;
  const tmp = tempDirs();
  const opts = (): Record<string, unknown> => ({ insecure: [proxy.host], dockerConfigPath: config, retryBaseMs: 5 });

  beforeAll(async () => {
    reg = await startRegistry({ auth: 'token' });
    await seedBusybox(reg.host, 'library/busybox', 'latest', { creds: 'tester:secret' });
    proxy = await startFaultProxy(reg.url, reg.blobFile);
    config = await dockerConfig(await tmp.make(), proxy.host, 'tester', 'secret');
    const raw = (await skopeoInspect(
      `${reg.host}/library/busybox:latest`,
      'tester:secret',
      true,
    )) as unknown as ImageManifest;
    layerDigest = raw.layers[0]!.digest;
  });
  beforeEach(() => {
    proxy.faults.length = 0;
    proxy.requests.length = 0;
    proxy.cdnRequests.length = 0;
  });
  afterAll(async () => {
    await proxy?.stop();
    await reg?.stop();
    await tmp.cleanup();
  });

  const ref = (): ReturnType<typeof parseReference> => parseReference(`${proxy.host}/library/busybox:latest`);

  it('resumes a blob whose connection drops mid-body with a Range request', async () => {
    proxy.faults.push({
      method: 'GET',
      path: new RegExp(`blobs/${layerDigest}`),
      action: { kind: 'drop', afterBytes: 300_000 },
    });
    const layout = await OciLayout.open(await tmp.make());
    const r = await pullImage(ref(), layout, opts());
    expect(await layout.hasBlob(r.manifest.layers[0]!.digest)).toBe(true);
    const gets = proxy.requests.filter((q) => q.method === 'GET' && q.path.includes(layerDigest));
    expect(gets.length).toBe(2);
    expect(gets[1]!.range).toMatch(/^bytes=[1-9]\d*-$/);
  });

  it('retries 500s and honours 429 Retry-After, then succeeds', async () => {
    proxy.faults.push({ method: 'HEAD', path: /manifests\/latest/, action: { kind: 'status', status: 500 }, times: 2 });
    proxy.faults.push({
      method: 'GET',
      path: new RegExp(`blobs/${layerDigest}`),
      action: { kind: 'status', status: 429, retryAfter: '1' },
    });
    const layout = await OciLayout.open(await tmp.make());
    const r = await pullImage(ref(), layout, opts());
    expect(await layout.hasBlob(r.manifest.layers[0]!.digest)).toBe(true);
    // no /v2/ ping first: the first HEAD that gets through goes without a token, and its 401 names the token server
    expect(
      proxy.requests.filter((q) => q.method === 'HEAD' && q.path.includes('manifests/latest')).map((q) => q.status),
    ).toEqual([500, 500, 401, 200]);
    expect(proxy.requests.filter((q) => q.path === '/v2/')).toEqual([]);
    expect(proxy.requests.filter((q) => q.path.includes(`blobs/${layerDigest}`)).map((q) => q.status)).toEqual([
      429, 200,
    ]);
  });

  it('gives up after the configured retries with an error naming the registry', async () => {
    proxy.faults.push({
      method: 'HEAD',
      path: /manifests\/latest/,
      action: { kind: 'status', status: 503 },
      times: 10,
    });
    proxy.faults.push({ method: 'GET', path: /manifests\/latest/, action: { kind: 'status', status: 503 }, times: 10 });
    const layout = await OciLayout.open(await tmp.make());
    const err = await pullImage(ref(), layout, { ...opts(), retries: 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).status).toBe(503);
    expect((err as RegistryError).registry).toBe(proxy.host);
  });

  it('follows a blob redirect to another host without sending the Authorization header there', async () => {
    proxy.faults.push({ method: 'GET', path: /\/blobs\/sha256:/, action: { kind: 'redirect' }, times: 10 });
    const layout = await OciLayout.open(await tmp.make());
    const r = await pullImage(ref(), layout, opts());
    expect(await layout.hasBlob(r.manifest.layers[0]!.digest)).toBe(true);
    expect(proxy.cdnRequests.length).toBe(2); // config and layer
    expect(proxy.cdnRequests.every((q) => q.authorization === undefined)).toBe(true);
    expect(
      proxy.requests.filter((q) => q.path.includes('/blobs/')).every((q) => q.authorization?.startsWith('Bearer ')),
    ).toBe(true);
  });

  it('leaves nothing half-written when a pull is interrupted, and the next pull finishes fetching only what is missing', async () => {
    proxy.faults.push({
      method: 'GET',
      path: new RegExp(`blobs/${layerDigest}`),
      action: { kind: 'drop', afterBytes: 200_000 },
    });
    const dir = await tmp.make();
    const layout = await OciLayout.open(dir);
    const err = await pullImage(ref(), layout, { ...opts(), retries: 0, concurrency: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((await readdir(join(dir, 'blobs'))).filter((f) => f.startsWith('.tmp'))).toEqual([]);
    expect(await layout.hasBlob(layerDigest as never)).toBe(false);
    expect((await layout.readIndex()).manifests).toEqual([]);
    proxy.requests.length = 0;
    const r = await pullImage(ref(), layout, opts());
    expect(await layout.hasBlob(r.manifest.layers[0]!.digest)).toBe(true);
    const blobGets = proxy.requests.filter((q) => q.method === 'GET' && q.path.includes('/blobs/'));
    expect(blobGets.map((q) => q.path)).toEqual([`/v2/library/busybox/blobs/${layerDigest}`]);
  });

  it('does not GET the manifest again when the tag still points at a digest it has (HEAD only)', async () => {
    const layout = await OciLayout.open(await tmp.make());
    await pullImage(ref(), layout, opts());
    proxy.requests.length = 0;
    await pullImage(ref(), layout, opts());
    // a new client: the HEAD without a token is refused (401, which replaces the /v2/ ping), the one with a token
    // answers
    expect(proxy.requests.filter((q) => q.path.includes('/manifests/')).map((q) => `${q.method} ${q.status}`)).toEqual([
      'HEAD 401',
      'HEAD 200',
    ]);
    expect(proxy.requests.filter((q) => q.path.includes('/blobs/'))).toEqual([]);
  });

  it('survives a 401 in the middle of a chunked upload (token expired): renews and resumes', async () => {
    const layout = await OciLayout.open(await tmp.make());
    const pulled = await pullImage(ref(), layout, opts());
    proxy.faults.push({ method: 'PATCH', path: /blobs\/uploads/, action: { kind: 'status', status: 401 }, skip: 2 });
    const dest = `${proxy.host}/reauth/busybox:1`;
    const { digest } = await pushImage(layout, pulled.manifestDescriptor, [parseReference(dest)], {
      ...opts(),
      concurrency: 1,
      monolithicMax: 1024,
      chunkSize: 128 * 1024,
    });
    expect(proxy.requests.filter((q) => q.method === 'PATCH').map((q) => q.status)).toContain(401);
    expect((await skopeoInspect(`${reg.host}/reauth/busybox:1`, 'tester:secret')).Digest).toBe(digest);
  });

  it('rejects a manifest or blob whose content does not match its digest, keeping nothing', async () => {
    proxy.faults.push({ method: 'GET', path: /manifests\/sha256:/, action: { kind: 'corrupt', append: ' ' } });
    const layout = await OciLayout.open(await tmp.make());
    const err = await pullImage(ref(), layout, opts()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DigestMismatchError);
    proxy.faults.push({
      method: 'GET',
      path: new RegExp(`blobs/${layerDigest}`),
      action: { kind: 'corrupt', append: 'x' },
    });
    const err2 = await pullImage(ref(), layout, { ...opts(), retries: 0 }).catch((e: unknown) => e);
    expect((err2 as Error).message).toMatch(/digest|larger/);
    expect(await layout.hasBlob(layerDigest as never)).toBe(false);
    expect((await layout.readIndex()).manifests).toEqual([]);
  });

  it('shows Docker Hub style rate-limit headers in verbose output', async () => {
    proxy.faults.push({
      method: 'HEAD',
      path: /manifests\/latest/,
      action: {
        kind: 'headers',
        headers: {
          'ratelimit-limit': '100;w=21600',
          'ratelimit-remaining': '76;w=21600',
          'docker-ratelimit-source': '127.0.0.1',
        },
      },
    });
    const lines: string[] = [];
    await pullImage(ref(), await OciLayout.open(await tmp.make()), {
      ...opts(),
      verbose: (m: string) => lines.push(m),
    });
    expect(lines).toContain('rate limit: 76;w=21600 of 100;w=21600 pulls remaining (source 127.0.0.1)');
  });

  it('resumes a chunked upload after a failed PATCH at the offset the registry reports', async () => {
    const layout = await OciLayout.open(await tmp.make());
    const pulled = await pullImage(ref(), layout, opts());
    proxy.requests.length = 0;
    // The second PATCH reaches the registry but its response is lost; the third gets a 500.
    proxy.faults.push({ method: 'PATCH', path: /blobs\/uploads/, action: { kind: 'reset' }, skip: 1 });
    proxy.faults.push({ method: 'PATCH', path: /blobs\/uploads/, action: { kind: 'status', status: 500 }, skip: 2 });
    const dest = `${proxy.host}/resumed/busybox:1`;
    const { digest } = await pushImage(layout, pulled.manifestDescriptor, [parseReference(dest)], {
      ...opts(),
      concurrency: 1,
      monolithicMax: 1024,
      chunkSize: 128 * 1024,
    });
    expect(digest).toBe(pulled.manifestDescriptor.digest);
    expect((await skopeoInspect(`${reg.host}/resumed/busybox:1`, 'tester:secret')).Digest).toBe(digest);
    const statusChecks = proxy.requests.filter((q) => q.method === 'GET' && q.path.includes('/blobs/uploads/'));
    expect(statusChecks.length).toBeGreaterThanOrEqual(2);
    // Pulling it back proves the registry assembled the chunks into the right blob.
    const back = await OciLayout.open(await tmp.make());
    const r = await pullImage(parseReference(dest), back, opts());
    expect(r.manifest.layers[0]!.digest).toBe(layerDigest);
  });
});

describe('round trips to an open registry (through the logging proxy)', () => {
  let reg: RegistryFixture;
  let proxy: FaultProxy;
  const tmp = tempDirs();

  beforeAll(async () => {
    reg = await startRegistry();
    await seedBusybox(reg.host, 'library/busybox', 'latest');
    proxy = await startFaultProxy(reg.url, reg.blobFile);
  });
  afterAll(async () => {
    await proxy?.stop();
    await reg?.stop();
    await tmp.cleanup();
  });

  it('pulls with no /v2/ ping, and with one GET of the tag when the target has no image of that name', async () => {
    const ref = parseReference(`${proxy.host}/library/busybox:latest`);
    const layout = await OciLayout.open(await tmp.make());
    await pullImage(ref, layout, { insecure: [proxy.host], absent: true });
    const seen = proxy.requests.map(
      (q) => `${q.method} ${q.path.replace(/sha256:[a-f0-9]{64}/, 'DIGEST')} ${q.status}`,
    );
    expect(seen.filter((l) => l.includes('/manifests/'))).toEqual(['GET /v2/library/busybox/manifests/latest 200']);
    expect(seen.filter((l) => l.startsWith('GET /v2/ '))).toEqual([]);
    expect(seen.every((l) => l.endsWith(' 200'))).toBe(true);
    // a pull that may find the manifest in its target asks with a HEAD first, and needs no GET of it then
    proxy.requests.length = 0;
    await pullImage(ref, layout, { insecure: [proxy.host] });
    expect(proxy.requests.map((q) => `${q.method} ${q.status}`)).toEqual(['HEAD 200']);
  });
});
