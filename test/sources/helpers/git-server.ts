// Real Git servers on the loopback for the git-source tests: `git http-backend` behind a small node HTTP server
// (smart HTTP, protocol v2 as git negotiates it), and `git daemon`. Each counts what clients asked for, so a test
// can tell a ref lookup (ls-remote) from a fetch of objects.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface GitRequest {
  method: string;
  path: string;
  /** `fetch` when the client asked for objects (v2 `command=fetch`, or v0 `want` lines); else `refs`. */
  kind: 'fetch' | 'refs';
  authorization: string | undefined;
}

export interface GitHttpServer {
  url: string;
  requests: GitRequest[];
  /** Requests that fetched objects (not ref listings). */
  fetches(): GitRequest[];
  close(): Promise<void>;
}

/** Serves every repository under `root` at http://127.0.0.1:PORT/NAME; `token` makes it require basic auth. */
export async function startGitHttp(root: string, opts: { token?: string } = {}): Promise<GitHttpServer> {
  const requests: GitRequest[] = [];
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const plain = req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
      const text = plain.toString('latin1');
      requests.push({
        method: req.method ?? 'GET',
        path: url.pathname,
        kind: /command=fetch|\d{4}want /.test(text) ? 'fetch' : 'refs',
        authorization: req.headers.authorization,
      });
      if (opts.token !== undefined) {
        const want = `Basic ${Buffer.from(`x-access-token:${opts.token}`).toString('base64')}`;
        if (req.headers.authorization?.toLowerCase() !== want.toLowerCase()) {
          res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' });
          res.end('unauthorized\n');
          return;
        }
      }
      const cgi = spawn('git', ['http-backend'], {
        env: {
          PATH: process.env.PATH,
          GIT_PROJECT_ROOT: root,
          GIT_HTTP_EXPORT_ALL: '1',
          REQUEST_METHOD: req.method ?? 'GET',
          PATH_INFO: decodeURIComponent(url.pathname),
          QUERY_STRING: url.search.slice(1),
          CONTENT_TYPE: req.headers['content-type'] ?? '',
          CONTENT_LENGTH: String(body.length),
          REMOTE_ADDR: '127.0.0.1',
          ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: req.headers['content-encoding'] } : {}),
          ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
        },
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      // a backend that answers without reading the whole body (an error reply) closes its stdin early
      cgi.stdin.on('error', () => undefined);
      cgi.stdin.end(body);
      const out = await readBody(cgi.stdout);
      const split = out.indexOf('\r\n\r\n');
      const head = out.subarray(0, split).toString('latin1');
      const headers: Record<string, string> = {};
      let status = 200;
      for (const line of head.split('\r\n')) {
        const i = line.indexOf(':');
        const k = line.slice(0, i).trim();
        const v = line.slice(i + 1).trim();
        if (k.toLowerCase() === 'status') status = parseInt(v, 10);
        else headers[k] = v;
      }
      res.writeHead(status, headers);
      res.end(out.subarray(split + 4));
    })().catch((e: Error) => {
      res.writeHead(500);
      res.end(e.message);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    fetches: () => requests.filter((r) => r.kind === 'fetch'),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function readBody(s: NodeJS.ReadableStream | IncomingMessage): Promise<Buffer> {
  return new Promise((res, rej) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => res(Buffer.concat(chunks)));
    s.on('error', rej);
  });
}

/** A free loopback port (for servers that cannot report theirs). */
export async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** `git daemon` exporting every repository under `root` at git://127.0.0.1:PORT/NAME. */
export async function startGitDaemon(root: string): Promise<{ url: string; close(): Promise<void> }> {
  const port = await freePort();
  const p: ChildProcess = spawn(
    'git',
    [
      'daemon',
      '--verbose',
      '--reuseaddr',
      '--export-all',
      '--listen=127.0.0.1',
      `--port=${port}`,
      `--base-path=${root}`,
      root,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  await new Promise<void>((res, rej) => {
    let err = '';
    const t = setTimeout(() => rej(new Error(`git daemon did not start: ${err}`)), 10_000);
    p.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('Ready to rumble')) {
        clearTimeout(t);
        res();
      }
    });
    // --verbose is what prints "Ready to rumble"; without it, poll with ls-remote instead
    p.on('exit', (code) => rej(new Error(`git daemon exited ${code}: ${err}`)));
  });
  return {
    url: `git://127.0.0.1:${port}`,
    close: async () => {
      p.kill();
      await new Promise((r) => p.once('exit', r));
    },
  };
}

/** git with a fixed identity and dates, so the test repositories are reproducible. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.invalid',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@example.invalid',
      GIT_AUTHOR_DATE: '2026-01-01T00:00:00Z',
      GIT_COMMITTER_DATE: '2026-01-01T00:00:00Z',
    },
  }).trim();
}
