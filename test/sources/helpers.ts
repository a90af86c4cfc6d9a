// What the remote-context tests share: the CLI run without blocking this process (its loopback servers must
// answer while the build runs), and a loopback HTTP server of fixed paths that counts its requests.
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BIN, REPO } from '../builder/helpers/tsb.js';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** bin/tsbuild with the store root and the test registry as the docker.io mirror, run asynchronously. */
export function tsbAsync(
  root: string,
  registryHost: string,
  args: string[],
  opts: { input?: Buffer | string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(
      BIN,
      ['--root', root, '--registry-mirror', `http://${registryHost}`, '--insecure-registry', registryHost, ...args],
      { cwd: opts.cwd ?? REPO, env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    p.stdin.on('error', () => undefined);
    p.stdin.end(opts.input ?? '');
  });
}

export interface FileServer {
  url(path: string): string;
  /** Requests served, by path. */
  hits: Map<string, number>;
  close(): Promise<void>;
}

/** Serves `files` (path → bytes) on 127.0.0.1; anything else is a 404. */
export async function serveFiles(files: Map<string, Buffer>): Promise<FileServer> {
  const hits = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const body = files.get(path);
    if (!body) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (p) => `http://127.0.0.1:${port}${p}`,
    hits,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
