// A docker-registry of a benchmark's own: plain HTTP on a free loopback port, storage under `parent`, killed with
// the benchmark (pdeathsig) if it dies; stop() ends it and removes its storage.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

const answers = (port) =>
  new Promise((r) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/v2/', agent: false }, (res) => {
      res.resume();
      r(res.statusCode === 200);
    });
    req.on('error', () => r(false));
  });

/** Starts the registry and waits until /v2/ answers; returns its host:port and stop(). */
export async function startRegistry(parent) {
  const dir = await mkdtemp(join(parent, 'reg-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  await writeFile(
    join(dir, 'config.yml'),
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\n  delete:\n    enabled: true\nhttp:\n  addr: ${host}\n  secret: bench\n`,
  );
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'docker-registry', 'serve', join(dir, 'config.yml')], {
    stdio: 'ignore',
  });
  let up = false;
  for (let i = 0; i < 200 && !(up = await answers(port)); i++) await new Promise((r) => setTimeout(r, 50));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 2000);
      await done;
      clearTimeout(t);
    }
    await rm(dir, { recursive: true, force: true });
  };
  if (!up) {
    await stop();
    throw new Error(`docker-registry did not answer on ${host}`);
  }
  return { host, stop };
}
