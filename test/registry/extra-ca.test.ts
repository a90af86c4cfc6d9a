// NODE_EXTRA_CA_CERTS, which bin/tsbuild keeps away from Node's start and gives to its own HTTPS clients
// (oci/tls-trust.ts): a registry, an ADD URL and a remote context served over TLS with a certificate from a private
// CA are trusted with the variable and refused without it, as Node would; a child process (a credential helper)
// sees the variable as the user set it. The TLS server is a loopback proxy the test runs in front of the registry.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN } from '../builder/helpers/tsb.js';
import { seedBusybox } from '../fixtures/images.js';
import { selfSigned, startRegistry, type RegistryFixture } from '../fixtures/registry.js';

let dir: string;
let reg: RegistryFixture;
let server: Server;
let host: string;
const served = new Map<string, Buffer>();
/** The proxy asks for credentials (Basic) on every registry request: the client then runs its credential helper. */
let requireAuth = false;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsbuild-extra-ca-'));
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  selfSigned(join(dir, 'ca.key'), join(dir, 'ca.pem'), '/CN=tsbuild test CA');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1\n');
  ssl(
    'x509',
    '-req',
    '-in',
    'srv.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-extfile',
    'ext',
    '-out',
    'srv.pem',
  );
  reg = await startRegistry();
  await seedBusybox(reg.host, 'library/busybox', 'latest');
  served.set('/hello.txt', Buffer.from('hello over tls\n'));
  served.set('/Buildfile', Buffer.from('FROM scratch\nCOPY Dockerfile /got\n'));
  const [regHost, regPort] = reg.host.split(':');
  // files of its own, the rest passed to the registry
  server = createServer(
    { key: readFileSync(join(dir, 'srv.key')), cert: readFileSync(join(dir, 'srv.pem')) },
    (req, res) => {
      const file = served.get(req.url ?? '');
      if (file) return void res.writeHead(200, { 'content-length': file.length }).end(file);
      if (requireAuth && !req.headers.authorization)
        return void res.writeHead(401, { 'www-authenticate': 'Basic realm="tsbuild-test"' }).end();
      const up = request(
        { host: regHost, port: Number(regPort), method: req.method, path: req.url, headers: req.headers },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      up.on('error', () => res.writeHead(502).end());
      req.pipe(up);
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  await reg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** bin/tsbuild as a user runs it (through its first line), without any --insecure-registry. */
function tsb(args: string[], env: NodeJS.ProcessEnv, root = 'root'): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(BIN, ['--root', join(dir, root), ...args], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

describe('NODE_EXTRA_CA_CERTS', () => {
  const withCa = (): NodeJS.ProcessEnv => ({ ...process.env, NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem') });
  const withoutCa = (): NodeJS.ProcessEnv => {
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    return env;
  };

  it('is refused without the CA: registry, ADD and remote context', async () => {
    const pull = await tsb(['pull', `${host}/library/busybox:latest`], withoutCa());
    expect(pull.code).not.toBe(0);
    expect(pull.out).toMatch(/certificate/i);
    writeFileSync(join(dir, 'Add.Buildfile'), `FROM scratch\nADD https://${host}/hello.txt /hello.txt\n`);
    const add = await tsb(['build', '-f', 'Add.Buildfile', '-t', 'add:1', '.'], withoutCa());
    expect(add.code).not.toBe(0);
    expect(add.out).toMatch(/certificate/i);
    const remote = await tsb(['build', '-t', 'remote:1', `https://${host}/Buildfile`], withoutCa());
    expect(remote.code).not.toBe(0);
    expect(remote.out).toMatch(/certificate/i);
  });

  it('trusts the CA it names, for the registry, ADD and a remote context', async () => {
    const pull = await tsb(['pull', `${host}/library/busybox:latest`], withCa());
    expect(pull.code, pull.out).toBe(0);
    writeFileSync(join(dir, 'Add.Buildfile'), `FROM scratch\nADD https://${host}/hello.txt /hello.txt\n`);
    const add = await tsb(
      ['build', '-f', 'Add.Buildfile', '-t', 'add:1', '--output', 'type=local,dest=out', '.'],
      withCa(),
    );
    expect(add.code, add.out).toBe(0);
    expect(readFileSync(join(dir, 'out', 'hello.txt'), 'utf8')).toBe('hello over tls\n');
    const remote = await tsb(['build', '--output', 'type=local,dest=rout', `https://${host}/Buildfile`], withCa());
    expect(remote.code, remote.out).toBe(0);
    expect(readFileSync(join(dir, 'rout', 'got'), 'utf8')).toBe(served.get('/Buildfile')!.toString());
  });

  it('on the system store (--use-openssl-ca), Node itself is given the variable', async () => {
    const env = { ...withCa(), NODE_OPTIONS: '--use-openssl-ca' };
    const pull = await tsb(['pull', `${host}/library/busybox:latest`], env, 'root3');
    expect(pull.code, pull.out).toBe(0);
    const refused = await tsb(
      ['pull', `${host}/library/busybox:latest`],
      { ...withoutCa(), NODE_OPTIONS: '--use-openssl-ca' },
      'root4',
    );
    expect(refused.code).not.toBe(0);
  });

  it('reaches child processes as the user set it', async () => {
    const bin = join(dir, 'bin');
    execFileSync('mkdir', ['-p', bin]);
    const log = join(dir, 'helper-env');
    writeFileSync(
      join(bin, 'docker-credential-tsbca'),
      `#!/bin/sh\nprintf '%s|%s' "\${NODE_EXTRA_CA_CERTS-unset}" "\${TSB_CA-unset}" > ${log}\n` +
        `printf '{"ServerURL":"%s","Username":"u","Secret":"p"}' "$(cat)"\n`,
    );
    chmodSync(join(bin, 'docker-credential-tsbca'), 0o755);
    const cfg = join(dir, 'docker');
    execFileSync('mkdir', ['-p', cfg]);
    writeFileSync(join(cfg, 'config.json'), JSON.stringify({ credHelpers: { [host]: 'tsbca' } }));
    const env = { ...withCa(), PATH: `${bin}:${process.env.PATH}`, DOCKER_CONFIG: cfg };
    requireAuth = true;
    try {
      const pull = await tsb(['pull', `${host}/library/busybox:latest`], env, 'root2');
      expect(pull.code, pull.out).toBe(0);
    } finally {
      requireAuth = false;
    }
    expect(readFileSync(log, 'utf8')).toBe(`${join(dir, 'ca.pem')}|unset`);
  });
});
