// A blob download as one byte stream that survives dropped connections: on a reset, a stall or a premature end it
// asks again with `Range: bytes=N-` and continues where it stopped (skipping bytes if the server ignores Range).
// The sink verifies the digest; this module only guarantees the bytes arrive once each, in order.
import { Readable } from 'node:stream';
import type { Descriptor } from '../oci/index.js';
import type { Repo } from './client.js';
import { RegistryError } from './errors.js';
import { isOutage, isTransientError, sleep } from './transport.js';

class PrematureEnd extends Error {
  override name = 'PrematureEnd';
  code = 'ERR_STREAM_PREMATURE_CLOSE';
}

class Stalled extends Error {
  override name = 'TimeoutError';
}

export interface DownloadOptions {
  onBytes?: (transferred: number) => void;
  onRetry?: (offset: number, err: Error) => void;
  /** Stops the download (and its retries) at once. */
  signal?: AbortSignal;
}

export function downloadBlob(repo: Repo, desc: Descriptor, opts: DownloadOptions = {}): Readable {
  const transport = repo.client.transport;
  async function* chunks(): AsyncGenerator<Buffer> {
    let offset = 0;
    // a dropped connection (the registry restarting) is retried for the time budget; bytes arriving renew it
    const outage = transport.budget(true);
    const other = transport.budget(false);
    for (;;) {
      const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
      const res = await repo.request({
        method: 'GET',
        path: `/blobs/${desc.digest}`,
        headers,
        noRetryStatus: [416],
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      if (!res.ok) await repo.fail(res, `GET blob ${desc.digest}`);
      let skip = 0;
      if (offset > 0) {
        const m = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
        if (res.status === 206 && m && Number(m[1]) === offset) skip = 0;
        else if (res.status === 200) skip = offset;
        else
          throw new RegistryError(`unexpected range response for ${desc.digest}`, {
            registry: repo.registry,
            repository: repo.repository,
            status: res.status,
          });
      }
      const body = res.body as unknown as Readable;
      let timer: NodeJS.Timeout | undefined;
      const arm = (): void => {
        clearTimeout(timer);
        timer = setTimeout(
          () => body.destroy(new Stalled(`no data for ${transport.timeoutMs} ms`)),
          transport.timeoutMs,
        );
      };
      try {
        arm();
        for await (const c of body) {
          arm();
          let chunk = c as Buffer;
          if (skip > 0) {
            if (chunk.length <= skip) {
              skip -= chunk.length;
              continue;
            }
            chunk = chunk.subarray(skip);
            skip = 0;
          }
          if (offset + chunk.length > desc.size && desc.size > 0) {
            throw new RegistryError(`blob ${desc.digest} is larger than its descriptor says (${desc.size} bytes)`, {
              registry: repo.registry,
              repository: repo.repository,
            });
          }
          offset += chunk.length;
          if (outage.attempt > 0) outage.reset();
          opts.onBytes?.(offset);
          yield chunk;
        }
        if (offset < desc.size) throw new PrematureEnd(`connection closed after ${offset} of ${desc.size} bytes`);
        return;
      } catch (e) {
        opts.signal?.throwIfAborted();
        const budget = isOutage(e) ? outage : other;
        const wait = e instanceof RegistryError || !isTransientError(e) ? undefined : budget.next();
        if (wait === undefined) {
          if (e instanceof RegistryError) throw e;
          throw new RegistryError(
            `download of ${desc.digest} from ${repo.registry} failed after ${offset} bytes: ${(e as Error).message}`,
            {
              registry: repo.registry,
              repository: repo.repository,
              cause: e,
            },
          );
        }
        opts.onRetry?.(offset, e as Error);
        transport.retrying({
          registry: repo.registry,
          repository: repo.repository,
          request: `download of ${desc.digest} at byte ${offset}`,
          message: (e as Error).message,
          attempt: budget.attempt,
          waitMs: wait,
          remainingMs: budget.remainingMs(),
        });
        await sleep(wait);
        opts.signal?.throwIfAborted();
      } finally {
        clearTimeout(timer);
        if (!body.destroyed) body.destroy();
      }
    }
  }
  return Readable.from(chunks(), { objectMode: false, highWaterMark: 1 << 20 });
}
