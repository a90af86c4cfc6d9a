// Bodies a registry sends into memory stop at their limit: a hostile server on loopback streams an endless manifest,
// an endless error body or an endless token response, and the pull fails with a RegistryError naming the reference
// and the limit, having closed the connection after about the limit (the server sees it) and without the process
// growing with the body.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseReference } from '../../oci/reference.js';
import { pullImage, RegistryError } from '../../registry-client/api.js';
import { openStore, registryView } from '../../store/index.js';
import { tempDirs } from './helpers.js';

/** What the server stops at when nobody closes the connection (far past every limit, so the test ends unfixed). */
const SERVER_MAX = 256 << 20;
const CHUNK = Buffer.alloc(64 << 10, 0x20);

type Mode = 'manifest' | 'error' | 'token';

interface Sent {
  bytes: number;
  /** The client closed the connection before the server had sent SERVER_MAX. */
  closedByClient: boolean;
}

let server: http.Server;
let host = '';
let mode: Mode = 'manifest';
let last: Promise<Sent> = Promise.resolve({ bytes: 0, closedByClient: false });
const tmp = tempDirs();

/** Streams spaces after `head` until the client hangs up or SERVER_MAX is reached. */
function endless(
  res: http.ServerResponse,
  status: number,
  headers: Record<string, string>,
  head: string,
): Promise<Sent> {
  res.writeHead(status, headers);
  return new Promise((resolve) => {
    let bytes = 0;
    let done = false;
    const finish = (closedByClient: boolean): void => {
      if (done) return;
      done = true;
      resolve({ bytes, closedByClient });
    };
    res.on('close', () => finish(!res.writableFinished));
    const pump = (): void => {
      if (done) return;
      if (bytes === 0) {
        res.write(head);
        bytes += head.length;
      }
      while (!done && bytes < SERVER_MAX) {
        bytes += CHUNK.length;
        if (!res.write(CHUNK)) return void res.once('drain', pump);
      }
      if (!done) res.end(() => finish(false));
    };
    pump();
  });
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = req.url ?? '';
    const bearer = `Bearer realm="http://${host}/token",service="${host}"`;
    if (url === '/v2/') {
      if (mode === 'token') res.writeHead(401, { 'www-authenticate': bearer }).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    if (url.startsWith('/token')) {
      last = endless(res, 200, { 'content-type': 'application/json' }, '{"token":"');
      return;
    }
    if (mode === 'token' && !req.headers.authorization) {
      res
        .writeHead(401, { 'www-authenticate': bearer, 'content-type': 'application/json' })
        .end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    if (req.method === 'HEAD') {
      // no digest: the client GETs by tag
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end();
      return;
    }
    if (mode === 'error')
      last = endless(
        res,
        404,
        { 'content-type': 'application/json' },
        '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"',
      );
    else
      last = endless(
        res,
        200,
        { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
        '{"schemaVersion":2,"layers":[',
      );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await tmp.cleanup();
});

/** Pulls `name` from the hostile server; the error, what the server sent, and how much the peak RSS grew. */
async function pullFrom(name: string): Promise<{ err: unknown; sent: Sent; rssGrowthBytes: number }> {
  const dir = await tmp.make();
  const store = await openStore(join(dir, 'store'));
  const before = process.resourceUsage().maxRSS * 1024;
  try {
    const err = await pullImage(parseReference(`${host}/${name}`), registryView(store), {
      insecure: [host],
      retries: 0,
      stateDir: dir,
      dockerConfigPath: join(dir, 'none.json'),
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const sent = await last;
    return { err, sent, rssGrowthBytes: process.resourceUsage().maxRSS * 1024 - before };
  } finally {
    await store.close();
  }
}

/** Loopback socket buffers hold a few MiB beyond what the client read before it closed. */
const SLACK = 16 << 20;

describe('response bodies stop at their limit', () => {
  it('an endless manifest fails at 4 MiB naming the reference, and the connection is closed', async () => {
    mode = 'manifest';
    const { err, sent, rssGrowthBytes } = await pullFrom('evil:latest');
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as Error).message).toContain(
      `manifest ${host}/evil:latest is larger than 4 MiB (4194304 bytes), the limit`,
    );
    expect(sent.closedByClient).toBe(true);
    expect(sent.bytes).toBeLessThan((4 << 20) + SLACK);
    expect(rssGrowthBytes).toBeLessThan(64 << 20);
  });

  it('an endless error body is dropped: the error is the status, the connection closed', async () => {
    mode = 'error';
    const { err, sent, rssGrowthBytes } = await pullFrom('evil:latest');
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).message).toMatch(/HTTP 404/);
    expect(sent.closedByClient).toBe(true);
    expect(sent.bytes).toBeLessThan((64 << 10) + SLACK);
    expect(rssGrowthBytes).toBeLessThan(64 << 20);
  });

  it('an endless token response fails at 1 MiB, and the connection is closed', async () => {
    mode = 'token';
    const { err, sent, rssGrowthBytes } = await pullFrom('evil:latest');
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as Error).message).toMatch(
      /token response from http:\/\/127\.0\.0\.1:\d+\/token is larger than 1 MiB, the limit/,
    );
    expect(sent.closedByClient).toBe(true);
    expect(sent.bytes).toBeLessThan((1 << 20) + SLACK);
    expect(rssGrowthBytes).toBeLessThan(64 << 20);
  });
});
