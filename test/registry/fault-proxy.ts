// A small HTTP proxy in front of a test registry that injects faults: connections dropped mid-body, 500s, 429s
// with Retry-After, and blob GETs redirected to a "CDN" on another port that serves the blob from the registry's
// storage (and records whether an Authorization header reached it).
import { createReadStream, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LoggedRequest {
  method: string;
  path: string;
  authorization?: string;
  range?: string;
  status?: number;
}

export type FaultAction =
  | { kind: 'status'; status: number; retryAfter?: string }
  | { kind: 'drop'; afterBytes: number }
  /** Forwards the request and appends `append` to the response body (content no longer matches its digest). */
  | { kind: 'corrupt'; append: string }
  /** Forwards the request and adds response headers. */
  | { kind: 'headers'; headers: Record<string, string> }
  /** Forwards the request, then closes the client connection before any response byte (the response is lost). */
  | { kind: 'reset' }
  | { kind: 'redirect' };

export interface Fault {
  method?: string;
  /** Matched against the request path. */
  path: RegExp;
  action: FaultAction;
  /** How many requests it hits (default 1). */
  times?: number;
  /** Matching requests to let through before it starts hitting (default 0). */
  skip?: number;
}

export interface FaultProxy {
  host: string;
  requests: LoggedRequest[];
  cdnRequests: LoggedRequest[];
  faults: Fault[];
  stop(): Promise<void>;
}

function listen(server: http.Server): Promise<number> {
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)));
}

function close(server: http.Server): Promise<void> {
  return new Promise((r) => {
    server.closeAllConnections();
    server.close(() => r());
  });
}

export async function startFaultProxy(upstream: string, blobFile: (digest: string) => string): Promise<FaultProxy> {
  const requests: LoggedRequest[] = [];
  const cdnRequests: LoggedRequest[] = [];
  const faults: Fault[] = [];

  const cdn = http.createServer((req, res) => {
    cdnRequests.push({
      method: req.method!,
      path: req.url!,
      authorization: req.headers.authorization,
      range: req.headers.range,
    });
    const digest = /\/blob\/(sha256:[a-f0-9]{64})/.exec(req.url!)?.[1];
    if (!digest) return void res.writeHead(404).end();
    const file = blobFile(digest);
    const size = statSync(file).size;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m) {
      const start = Number(m[1]);
      res.writeHead(206, { 'content-length': size - start, 'content-range': `bytes ${start}-${size - 1}/${size}` });
      createReadStream(file, { start }).pipe(res);
    } else {
      res.writeHead(200, { 'content-length': size });
      createReadStream(file).pipe(res);
    }
  });
  const cdnPort = await listen(cdn);

  const proxy = http.createServer((req, res) => {
    const entry: LoggedRequest = {
      method: req.method!,
      path: req.url!,
      authorization: req.headers.authorization,
      range: req.headers.range,
    };
    requests.push(entry);
    let fault = faults.find(
      (f) => (f.times ?? 1) > 0 && (!f.method || f.method === req.method) && f.path.test(req.url!),
    );
    if (fault && (fault.skip ?? 0) > 0) {
      fault.skip = fault.skip! - 1;
      fault = undefined;
    }
    if (fault) fault.times = (fault.times ?? 1) - 1;
    const action = fault?.action;
    if (action?.kind === 'status') {
      entry.status = action.status;
      req.resume();
      res.writeHead(action.status, {
        'content-type': 'application/json',
        ...(action.retryAfter ? { 'retry-after': action.retryAfter } : {}),
      });
      return void res.end('{"errors":[{"code":"UNAVAILABLE","message":"injected fault"}]}');
    }
    if (action?.kind === 'redirect') {
      const digest = /blobs\/(sha256:[a-f0-9]{64})/.exec(req.url!)?.[1];
      entry.status = 307;
      req.resume();
      res.writeHead(307, { location: `http://127.0.0.1:${cdnPort}/blob/${digest}?signature=test` });
      return void res.end();
    }
    const up = http.request(`${upstream}${req.url}`, { method: req.method, headers: req.headers }, (ur) => {
      entry.status = ur.statusCode;
      if (action?.kind === 'reset') {
        ur.resume();
        req.socket.destroy();
        return;
      }
      if (action?.kind === 'corrupt') {
        const chunks: Buffer[] = [];
        ur.on('data', (c: Buffer) => chunks.push(c));
        ur.on('end', () => {
          const body = Buffer.concat([...chunks, Buffer.from(action.append)]);
          res.writeHead(ur.statusCode!, { ...ur.headers, 'content-length': String(body.length) });
          res.end(body);
        });
        return;
      }
      res.writeHead(ur.statusCode!, { ...ur.headers, ...(action?.kind === 'headers' ? action.headers : {}) });
      if (action?.kind === 'drop') {
        let sent = 0;
        ur.on('data', (c: Buffer) => {
          if (sent + c.length >= action.afterBytes) {
            res.write(c.subarray(0, Math.max(0, action.afterBytes - sent)));
            ur.destroy();
            res.socket?.destroy();
            return;
          }
          sent += c.length;
          res.write(c);
        });
        ur.on('end', () => res.end());
        return;
      }
      ur.pipe(res);
    });
    up.on('error', () => res.socket?.destroy());
    req.pipe(up);
  });
  const port = await listen(proxy);
  return {
    host: `127.0.0.1:${port}`,
    requests,
    cdnRequests,
    faults,
    stop: async () => {
      await close(proxy);
      await close(cdn);
    },
  };
}
