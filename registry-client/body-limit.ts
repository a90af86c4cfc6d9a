// Response bodies read into memory stop at a limit: a registry (or a token server, or whatever a redirect leads to)
// is untrusted, and an endless body must cost neither memory nor an endless download. Past the limit the body is
// destroyed, which closes its connection (node-fetch pipes the socket into the body, so destroying one ends both).
import type { Readable } from 'node:stream';
import type { Response } from 'node-fetch';

/** An error body (distribution JSON) or a token response is a few kB; these are generous bounds. */
export const MAX_ERROR_BODY = 64 << 10;
export const MAX_TOKEN_BODY = 1 << 20;
/**
 * A body nobody reads (a redirect's, a retried 5xx's) is drained up to this for keep-alive, else its connection closed.
 */
export const MAX_DISCARD_BODY = 64 << 10;

function bodyOf(res: Response): Readable | null {
  return res.body as unknown as Readable | null;
}

/**
 * The body, read whole when it is at most `limitBytes`; otherwise `tooLarge()` is thrown as soon as the announced
 * length or the bytes received pass the limit, and the connection is closed.
 */
export async function readBodyLimited(res: Response, limitBytes: number, tooLarge: () => Error): Promise<Buffer> {
  const body = bodyOf(res);
  if (!body) return Buffer.alloc(0);
  const announced = Number(res.headers.get('content-length') ?? NaN);
  if (announced > limitBytes) {
    body.destroy();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const c of body) {
      const chunk = c as Buffer;
      size += chunk.length;
      if (size > limitBytes) throw tooLarge();
      chunks.push(chunk);
    }
  } finally {
    // reached on the limit and on any error: the loop's early exit leaves the body open otherwise
    if (!body.destroyed && !body.readableEnded) body.destroy();
  }
  return Buffer.concat(chunks, size);
}

/** The body as text, or undefined when it is longer than `limitBytes` (an error page nobody needs whole). */
export async function readTextLimited(res: Response, limitBytes: number): Promise<string | undefined> {
  const tooLarge = new Error('body too large');
  try {
    return (await readBodyLimited(res, limitBytes, () => tooLarge)).toString('utf8');
  } catch (e) {
    if (e === tooLarge) return undefined;
    throw e;
  }
}

/** Drops a body: drained (so its connection can serve the next request) when small, else its connection closed. */
export async function discardBody(res: Response, limitBytes = MAX_DISCARD_BODY): Promise<void> {
  await readTextLimited(res, limitBytes).catch(() => undefined);
}
