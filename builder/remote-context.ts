// An HTTP(S) build context (`tsbuild build https://host/ctx.tar.gz`, `--build-context NAME=https://…`), as buildx
// reads one: the body is a tar, plain or compressed (gzip, bzip2, xz, zstd, told by content), unpacked into a
// private temporary directory; any other body is a Buildfile alone, and the context holds only it (as `Dockerfile`).
// The download is streamed and capped (`remoteContextMaxBytes`, default REMOTE_CONTEXT_MAX_BYTES). Git URLs
// (`.git`, `git://`, `ssh://`, `user@host:path`) are not HTTP contexts: builder/git-url.ts tells them apart.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { TsbuildError } from '../oci/index.js';
import type { Response } from 'node-fetch';
import { BuildContext } from './context.js';
import { sniffStream } from './context-tar.js';
import { download } from './download.js';

/** The default cap on a downloaded context's size as sent (compressed): 2 GiB. */
export const REMOTE_CONTEXT_MAX_BYTES = 2 * 1024 ** 3;

export class RemoteContextError extends TsbuildError {
  override name = 'RemoteContextError';
  constructor(message: string, hint: string, cause?: unknown) {
    super('REMOTE_CONTEXT', message, { hint, ...(cause !== undefined ? { cause } : {}) });
  }
}

/** URL credentials never reach a message. */
function shown(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = '***';
      u.password = '';
    }
    return u.toString();
  } catch {
    return url;
  }
}

/** The response body, counted: more than `max` bytes fails the download. */
async function* capped(body: AsyncIterable<Buffer>, max: number, url: string): AsyncGenerator<Buffer> {
  let n = 0;
  for await (const c of body) {
    n += c.length;
    if (n > max)
      throw new RemoteContextError(
        `the context at ${shown(url)} is larger than ${max} bytes`,
        'raise BuildOptions.remoteContextMaxBytes, or build from a local directory',
      );
    yield c;
  }
}

/** Downloads and opens an HTTP(S) context in a new directory under `tmpParent` (removed when the context closes). */
export async function openHttpContext(
  url: string,
  tmpParent: string,
  opts: { maxBytes?: number; signal?: AbortSignal } = {},
): Promise<BuildContext> {
  const max = opts.maxBytes ?? REMOTE_CONTEXT_MAX_BYTES;
  let res: Response;
  try {
    res = await download(url, opts.signal);
  } catch (e) {
    // node-fetch's message names the URL again: its reason alone
    const why = (e as Error).message.replace(/^request to .* failed, reason: /s, '');
    throw new RemoteContextError(
      `cannot download the context ${shown(url)}: ${why}`,
      'check the URL and that this machine reaches it',
      e,
    );
  }
  if (!res.ok || !res.body)
    throw new RemoteContextError(
      `cannot download the context ${shown(url)}: HTTP ${res.status} ${res.statusText}`,
      'check the URL',
    );
  const body = capped(res.body as Readable, max, url);
  const { format, stream } = await sniffStream(body);
  if (format !== 'text') return BuildContext.openTar(stream, tmpParent, `the context ${shown(url)}`);
  // a Buildfile alone: the context holds only it
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  await mkdir(tmpParent, { recursive: true });
  const dir = await mkdtemp(join(tmpParent, 'context-'));
  try {
    await writeFile(join(dir, 'Dockerfile'), Buffer.concat(chunks));
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return BuildContext.openDir(dir, { cleanupDir: dir });
}
