// Credentials and configuration as users have them: login/logout writing config.json, credential helpers,
// mirrors for docker.io with fallback, env and config-file settings.
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseReference } from '../../oci/reference.js';
import {
  lookupCredentials,
  login,
  logout,
  OciLayout,
  pullImage,
  RegistryError,
  resolveRegistryOptions,
} from '../../registry-client/api.js';
import { seedBusybox } from '../fixtures/images.js';
import { freePort, startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { tempDirs } from './helpers.js';

describe('login, logout and credential helpers', () => {
  let basic: RegistryFixture;
  let token: RegistryFixture;
  const tmp = tempDirs();
  const savedPath = process.env.PATH;

  beforeAll(async () => {
    [basic, token] = await Promise.all([
      startRegistry({ auth: 'htpasswd' }),
      startRegistry({ auth: 'token', anonymousPull: false }),
    ]);
    await Promise.all([
      seedBusybox(basic.host, 'library/busybox', 'latest', { creds: 'tester:secret' }),
      seedBusybox(token.host, 'private/busybox', 'latest', { creds: 'tester:secret' }),
    ]);
  });
  afterAll(async () => {
    process.env.PATH = savedPath;
    await Promise.all([basic?.stop(), token?.stop()]);
    await tmp.cleanup();
  });

  for (const kind of ['basic', 'token'] as const) {
    it(`login verifies against the ${kind} registry, stores base64 auths, and logout removes them`, async () => {
      const reg = kind === 'basic' ? basic : token;
      const repo = kind === 'basic' ? 'library/busybox' : 'private/busybox';
      const configPath = join(await tmp.make(), 'docker', 'config.json');
      const opts = { insecure: [reg.host], dockerConfigPath: configPath, retries: 0 };
      const bad = await login(reg.host, { username: 'tester', password: 'wrong' }, opts).catch((e: unknown) => e);
      expect(bad).toBeInstanceOf(RegistryError);
      await expect(readFile(configPath)).rejects.toThrow();

      await login(reg.host, { username: 'tester', password: 'secret' }, opts);
      const cfg = JSON.parse(await readFile(configPath, 'utf8')) as { auths: Record<string, { auth: string }> };
      expect(Buffer.from(cfg.auths[reg.host]!.auth, 'base64').toString()).toBe('tester:secret');
      const layout = await OciLayout.open(await tmp.make());
      await pullImage(parseReference(`${reg.host}/${repo}:latest`), layout, opts);

      expect(await logout(reg.host, opts)).toBe(true);
      const err = await pullImage(
        parseReference(`${reg.host}/${repo}:latest`),
        await OciLayout.open(await tmp.make()),
        opts,
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RegistryError);
      expect(await logout(reg.host, opts)).toBe(false);
    });
  }

  it('asks docker-credential-NAME for credentials (credHelpers per registry, credsStore for all)', async () => {
    const bin = await tmp.make();
    const log = join(bin, 'asked');
    await writeFile(
      join(bin, 'docker-credential-tsbtest'),
      `#!/bin/sh\n[ "$1" = get ] || exit 1\nread server\necho "$server" >> ${log}\nprintf '{"ServerURL":"%s","Username":"tester","Secret":"secret"}' "$server"\n`,
    );
    await chmod(join(bin, 'docker-credential-tsbtest'), 0o755);
    process.env.PATH = `${bin}:${savedPath}`;
    const dir = await tmp.make();
    const helperCfg = join(dir, 'helpers.json');
    await writeFile(helperCfg, JSON.stringify({ credHelpers: { [token.host]: 'tsbtest' } }));
    const layout = await OciLayout.open(await tmp.make());
    await pullImage(parseReference(`${token.host}/private/busybox:latest`), layout, {
      insecure: [token.host],
      dockerConfigPath: helperCfg,
    });
    expect((await readFile(log, 'utf8')).trim()).toBe(token.host);
    const storeCfg = join(dir, 'store.json');
    await writeFile(storeCfg, JSON.stringify({ credsStore: 'tsbtest' }));
    expect(await lookupCredentials('docker.io', [storeCfg])).toEqual({ username: 'tester', password: 'secret' });
    expect((await readFile(log, 'utf8')).trim().split('\n').at(-1)).toBe('https://index.docker.io/v1/');
  });
});

describe('identity tokens', () => {
  let reg: RegistryFixture;
  const tmp = tempDirs();
  beforeAll(async () => {
    reg = await startRegistry({
      auth: 'token',
      anonymousPull: false,
      refreshTokens: { 'identity-token-123': 'tester' },
    });
    await seedBusybox(reg.host, 'private/busybox', 'latest', { creds: 'tester:secret' });
  });
  afterAll(async () => {
    await reg?.stop();
    await tmp.cleanup();
  });

  it('uses an identity token from config.json with the OAuth2 refresh-token grant', async () => {
    const cfg = join(await tmp.make(), 'config.json');
    await writeFile(cfg, JSON.stringify({ auths: { [reg.host]: { identitytoken: 'identity-token-123' } } }));
    reg.tokenRequests.length = 0;
    const r = await pullImage(
      parseReference(`${reg.host}/private/busybox:latest`),
      await OciLayout.open(await tmp.make()),
      { insecure: [reg.host], dockerConfigPath: cfg },
    );
    expect(r.config.config.Cmd).toEqual(['/bin/sh']);
    expect(reg.tokenRequests[0]).toEqual({
      user: 'tester',
      scopes: ['repository:private/busybox:pull'],
      granted: [{ name: 'private/busybox', actions: ['pull'] }],
    });
  });
});

describe('mirrors and configuration', () => {
  let mirror: RegistryFixture;
  let empty: RegistryFixture;
  const tmp = tempDirs();

  beforeAll(async () => {
    [mirror, empty] = await Promise.all([startRegistry(), startRegistry()]);
    await seedBusybox(mirror.host);
  });
  afterAll(async () => {
    await Promise.all([mirror?.stop(), empty?.stop()]);
    await tmp.cleanup();
  });

  it('pulls docker.io images through the first mirror that has them (a dead one and one lacking the image are skipped)', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const verbose: string[] = [];
    const layout = await OciLayout.open(await tmp.make());
    const r = await pullImage(parseReference('busybox'), layout, {
      mirrors: [dead, empty.url, mirror.url],
      retries: 0,
      verbose: (m) => verbose.push(m),
    });
    expect(r.name).toBe('docker.io/library/busybox:latest');
    expect(r.config.config.Cmd).toEqual(['/bin/sh']);
    expect(verbose.filter((m) => m.startsWith('mirror ')).length).toBe(2);
  });

  it('reads mirrors and insecure registries from the environment and the config file', async () => {
    const dir = await tmp.make();
    await mkdir(join(dir, 'tsbuild'));
    await writeFile(
      join(dir, 'tsbuild', 'config.json'),
      JSON.stringify({ registryMirrors: ['https://file-mirror'], insecureRegistries: ['file-host:5000'] }),
    );
    const o = await resolveRegistryOptions(
      { mirrors: ['https://flag-mirror'] },
      {
        XDG_CONFIG_HOME: dir,
        TSBUILD_REGISTRY_MIRROR: 'https://env-mirror',
        TSBUILD_INSECURE_REGISTRY: 'env-host:5000',
      },
    );
    expect(o.mirrors).toEqual(['https://flag-mirror', 'https://env-mirror', 'https://file-mirror']);
    expect(o.insecure).toEqual(['env-host:5000', 'file-host:5000']);
    const o2 = await resolveRegistryOptions({}, { TSBUILD_CONFIG: join(dir, 'tsbuild', 'config.json') });
    expect(o2.insecure).toEqual(['file-host:5000']);
  });
});
