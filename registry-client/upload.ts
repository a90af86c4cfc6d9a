// Blob upload: HEAD first (skip what the repository has), a cross-repository mount when another repository of
// the registry is known to hold the blob, else a streamed upload — one PUT for small blobs, PATCH chunks for large
// ones, each response's Location used for the next request, and after a failure the upload's Range tells where
// to resume.
import { Readable } from 'node:stream';
import type { BlobSource } from '../oci/index.js';
import type { Descriptor } from '../oci/index.js';
import type { Repo } from './client.js';
import { RegistryError } from './errors.js';
import { isOutage, isTransientError, sleep } from './transport.js';
import { discardBody } from './body-limit.js';

export interface UploadOptions {
  /** Blobs up to this size go in one PUT (default 32 MiB). */
  monolithicMax?: number;
  /** PATCH chunk size for larger blobs (default 64 MiB). */
  chunkSize?: number;
  /** Repositories of the same registry known to hold the blob. */
  mountFrom?: string[];
  onBytes?: (transferred: number) => void;
  onRetry?: (offset: number, err: Error) => void;
}

export type UploadResult = 'exists' | 'mounted' | 'uploaded';

function withDigest(location: string, digest: string): string {
  const u = new URL(location);
  u.searchParams.set('digest', digest);
  return u.href;
}

/** Reads exactly `n` bytes from a shared iterator, keeping the rest of the last chunk for the next call. */
class ChunkReader {
  private rest: Buffer | undefined;
  private readonly it: AsyncIterator<Buffer>;
  constructor(readonly src: Readable) {
    this.it = src[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }
  async *take(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      let c = this.rest;
      this.rest = undefined;
      if (!c) {
        const r = await this.it.next();
        if (r.done) throw new Error(`blob ended ${left} bytes early`);
        c = r.value;
      }
      if (c.length > left) {
        this.rest = c.subarray(left);
        c = c.subarray(0, left);
      }
      left -= c.length;
      yield c;
    }
  }
  async skip(n: number): Promise<void> {
    for await (const _ of this.take(n)) void _;
  }
  close(): void {
    this.src.destroy();
  }
}

export async function blobExists(repo: Repo, desc: Descriptor): Promise<boolean> {
  const res = await repo.request({ method: 'HEAD', path: `/blobs/${desc.digest}` });
  if (res.status === 200) return true;
  if (res.status === 404) return false;
  return repo.fail(res, `HEAD blob ${desc.digest}`);
}

async function startUpload(
  repo: Repo,
  desc: Descriptor,
  mountFrom: string[],
): Promise<{ mounted: true } | { mounted: false; location: string }> {
  for (const from of mountFrom.slice(0, 2)) {
    const res = await repo.request({
      method: 'POST',
      path: `/blobs/uploads/?mount=${encodeURIComponent(desc.digest)}&from=${encodeURIComponent(from)}`,
      extraScopes: [`repository:${from}:pull`],
      headers: { 'content-length': '0' },
    });
    await discardBody(res);
    if (res.status === 201) return { mounted: true };
    if (res.status === 202 && res.headers.get('location')) {
      // The registry could not mount and opened an ordinary upload instead.
      return { mounted: false, location: new URL(res.headers.get('location')!, repo.url('/')).href };
    }
  }
  const res = await repo.request({ method: 'POST', path: '/blobs/uploads/', headers: { 'content-length': '0' } });
  if (res.status !== 202) await repo.fail(res, 'starting a blob upload');
  await discardBody(res);
  const loc = res.headers.get('location');
  if (!loc)
    throw new RegistryError('upload started without a Location', {
      registry: repo.registry,
      repository: repo.repository,
      status: res.status,
    });
  return { mounted: false, location: new URL(loc, repo.url('/')).href };
}

/** Where an upload stands (`Range: 0-N` → N+1), or undefined when the session is gone. */
async function uploadOffset(repo: Repo, location: string): Promise<number | undefined> {
  const res = await repo.request({ method: 'GET', path: location });
  await discardBody(res);
  if (res.status !== 204 && res.status !== 200) return undefined;
  const m = /^(?:bytes=)?(\d+)-(\d+)$/.exec(res.headers.get('range') ?? '');
  return m ? Number(m[2]) + 1 : 0;
}

export async function uploadBlob(
  repo: Repo,
  source: BlobSource,
  desc: Descriptor,
  opts: UploadOptions = {},
): Promise<UploadResult> {
  if (await blobExists(repo, desc)) return 'exists';
  const transport = repo.client.transport;
  const monolithicMax = opts.monolithicMax ?? 32 << 20;
  const chunkSize = opts.chunkSize ?? 64 << 20;
  let failures = 0;
  // a registry restarting mid-upload is retried for the time budget; a chunk accepted renews it
  const outage = transport.budget(true);
  const other = transport.budget(false);
  let session = await startUpload(repo, desc, opts.mountFrom ?? []);
  if (session.mounted) return 'mounted';
  let location = session.location;
  let offset = 0;
  for (;;) {
    const reader = new ChunkReader(await source.openBlob(desc.digest));
    try {
      if (offset > 0) await reader.skip(offset);
      if (desc.size <= monolithicMax && offset === 0) {
        const res = await repo.request({
          method: 'PUT',
          path: withDigest(location, desc.digest),
          retries: 0,
          replayable: false,
          timeoutMs: bodyTimeout(transport.timeoutMs, desc.size),
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(desc.size) },
          body: () => Readable.from(counted(reader.take(desc.size), 0, opts.onBytes), { objectMode: false }),
        });
        if (res.status !== 201) {
          if (retryableUploadStatus(res.status, failures))
            throw Object.assign(new Error(`HTTP ${res.status}`), { code: 'ECONNRESET', status: res.status });
          await repo.fail(res, `PUT blob ${desc.digest}`);
        }
        await discardBody(res);
        return 'uploaded';
      }
      while (offset < desc.size) {
        const n = Math.min(chunkSize, desc.size - offset);
        const res = await repo.request({
          method: 'PATCH',
          path: location,
          retries: 0,
          replayable: false,
          timeoutMs: bodyTimeout(transport.timeoutMs, n),
          headers: {
            'content-type': 'application/octet-stream',
            'content-length': String(n),
            'content-range': `${offset}-${offset + n - 1}`,
          },
          body: () => Readable.from(counted(reader.take(n), offset, opts.onBytes), { objectMode: false }),
        });
        await discardBody(res);
        if (res.status !== 202) {
          if (retryableUploadStatus(res.status, failures) || res.status === 416)
            throw Object.assign(new Error(`HTTP ${res.status}`), { code: 'ECONNRESET', status: res.status });
          await repo.fail(res, `PATCH blob ${desc.digest}`);
        }
        location = new URL(res.headers.get('location') ?? location, location).href;
        const m = /^(?:bytes=)?(\d+)-(\d+)$/.exec(res.headers.get('range') ?? '');
        offset = m ? Number(m[2]) + 1 : offset + n;
        outage.reset();
      }
      const res = await repo.request({
        method: 'PUT',
        path: withDigest(location, desc.digest),
        retries: 0,
        headers: { 'content-length': '0' },
      });
      if (res.status !== 201) {
        if (res.status >= 500 || res.status === 429)
          throw Object.assign(new Error(`HTTP ${res.status}`), { code: 'ECONNRESET', status: res.status });
        await repo.fail(res, `completing upload of ${desc.digest}`);
      }
      await discardBody(res);
      return 'uploaded';
    } catch (e) {
      const cause = (e as { cause?: unknown }).cause ?? e;
      const budget = isOutage(cause) || isOutage(e) ? outage : other;
      const wait = isTransientError(cause) || isTransientError(e) ? budget.next() : undefined;
      if (wait === undefined) throw e;
      failures++;
      opts.onRetry?.(offset, e as Error);
      transport.retrying({
        registry: repo.registry,
        repository: repo.repository,
        request: `upload of ${desc.digest} at byte ${offset}`,
        message: (e as Error).message,
        attempt: budget.attempt,
        waitMs: wait,
        remainingMs: budget.remainingMs(),
      });
      await sleep(wait);
      const at = await uploadOffset(repo, location).catch(() => undefined);
      if (at === undefined || desc.size <= monolithicMax) {
        session = await startUpload(repo, desc, []);
        if (session.mounted) return 'mounted';
        location = session.location;
        offset = 0;
      } else {
        offset = at;
      }
      transport.verbose(`upload of ${desc.digest}: ${(e as Error).message}; resuming at byte ${offset}`);
    } finally {
      reader.close();
    }
  }
}

/** 5xx and 429 are worth another attempt; a 401 once (the token expired mid-upload and has been renewed). */
function retryableUploadStatus(status: number, failures: number): boolean {
  return status >= 500 || status === 429 || (status === 401 && failures === 0);
}

/** Headers come only after the body is sent: allow the idle timeout plus 1 s per 256 kB (a slow uplink). */
function bodyTimeout(idle: number, bytes: number): number {
  return idle + Math.ceil(bytes / (256 * 1024)) * 1000;
}

async function* counted(
  src: AsyncGenerator<Buffer>,
  start: number,
  onBytes?: (n: number) => void,
): AsyncGenerator<Buffer> {
  let n = start;
  for await (const c of src) {
    n += c.length;
    onBytes?.(n);
    yield c;
  }
}
