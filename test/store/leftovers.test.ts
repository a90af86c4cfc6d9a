// What killed and failed commands leave behind is gone after the next command: a build SIGKILLed while a COPY
// --from has its read-only view mounted, a save SIGKILLed while compressing and writing its archive, a pull cut
// half-way by the registry. Real processes, real SIGKILL, a real registry behind the fault proxy.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { startFaultProxy, type FaultProxy } from '../registry/fault-proxy.js';
import { tempDirs } from '../registry/helpers.js';
import { context, mountsUnder, noise, start, tsb } from './damage-helpers.js';

const run = promisify(execFile);

/** Polls `check` until it returns something, or the process ends first. */
async function until<T>(check: () => T | undefined, ended: () => boolean): Promise<T | undefined> {
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (ended()) return undefined;
    await new Promise((r) => setImmediate(r));
  }
}

/** Temp names of the store: what no finished command may leave. */
function temps(root: string): string[] {
  const list = (d: string): string[] =>
    existsSync(join(root, d)) ? readdirSync(join(root, d)).map((n) => `${d}/${n}`) : [];
  return [
    ...list('tmp'),
    ...list('layers').filter((n) => /\/(tmp|trash)-/.test(n)),
    ...list('run'),
    ...list('builder/tmp'),
  ];
}

describe('leftovers of killed and failed commands', () => {
  const tmp = tempDirs();
  let reg: RegistryFixture;
  let proxy: FaultProxy;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    reg = await startRegistry({ auth: 'none' });
    proxy = await startFaultProxy(reg.url, reg.blobFile);
    env = {
      DOCKER_CONFIG: await tmp.make(),
      TSBUILD_INSECURE_REGISTRY: `${reg.host},${proxy.host}`,
      XDG_CONFIG_HOME: await tmp.make(),
    };
  });
  afterAll(async () => {
    await proxy?.stop();
    await reg?.stop();
    await tmp.cleanup();
  });

  it('a build SIGKILLed during COPY --from leaves no mount after the next command, and rm -rf of the store works', async () => {
    const root = await tmp.make();
    // two layers in stage a, so COPY --from=a reads a mounted overlay view of them; a big file keeps it mounted
    const ctx = await context(
      join(await tmp.make(), 'ctx'),
      'FROM scratch AS a\nCOPY f1 /f1\nCOPY f2 /f2\nFROM scratch\nCOPY --from=a / /out/\n',
      {
        f1: 'one\n',
        f2: Buffer.alloc(400 << 20, 0x5a),
      },
    );
    const b = start(root, ['build', '--progress=plain', '-t', 'local/kill:1', '-f', join(ctx, 'Buildfile'), ctx], env);
    let ended = false;
    void b.done.then(() => (ended = true));
    const view = await until(
      () => mountsUnder(join(root, 'builder', 'tmp')).find((m) => /\/view-[^/]*$/.test(m)),
      () => ended,
    );
    expect(view, 'the build ended before its view was mounted').toBeDefined();
    b.child.kill('SIGKILL');
    expect((await b.done).signal).toBe('SIGKILL');
    expect(mountsUnder(root)).toContain(view);

    const r = await tsb(root, ['images'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(mountsUnder(root)).toEqual([]);
    expect(temps(root)).toEqual([]);
    await rm(root, { recursive: true });
    expect(existsSync(root)).toBe(false);
  });

  it('a SIGKILLed save leaves nothing the next save to that destination and the next command do not remove', async () => {
    const root = await tmp.make();
    const ctx = await context(join(await tmp.make(), 'ctx'), 'FROM scratch\nCOPY big /big\n', {
      big: noise(96 << 20, 7),
    });
    const built = await tsb(root, ['build', '-q', '-t', 'local/save:1', '-f', join(ctx, 'Buildfile'), ctx], env);
    expect(built.code, built.stderr).toBe(0);
    const out = await tmp.make();
    const dest = join(out, 'img.tar');
    // killed while the layer is being compressed (a partial blob under tmp/)
    const s1 = start(root, ['save', '-o', dest, 'local/save:1'], env);
    let ended1 = false;
    void s1.done.then(() => (ended1 = true));
    expect(
      await until(
        () => (readdirSync(join(root, 'tmp')).length > 0 ? true : undefined),
        () => ended1,
      ),
      'save ended before compressing',
    ).toBe(true);
    s1.child.kill('SIGKILL');
    await s1.done;
    // killed while the archive is being written beside the destination (the layer is compressed by now)
    const s2 = start(root, ['save', '-o', dest, 'local/save:1'], env);
    let ended2 = false;
    void s2.done.then(() => (ended2 = true));
    const partial = await until(
      () => readdirSync(out).find((n) => n !== 'img.tar'),
      () => ended2,
    );
    expect(partial, 'save ended before writing its archive').toBeDefined();
    s2.child.kill('SIGKILL');
    await s2.done;
    expect(readdirSync(out)).toContain(partial);

    const s3 = await tsb(root, ['save', '-o', dest, 'local/save:1'], env);
    expect(s3.code, s3.stderr).toBe(0);
    expect(readdirSync(out)).toEqual(['img.tar']);
    expect(temps(root)).toEqual([]);
    await run('tar', ['-tf', dest]);
  });

  it('a pull that fails half-way leaves no partial blobs or layers', async () => {
    // an image of several layers in the registry, pushed from a store
    const src = await tmp.make();
    const files: Record<string, Buffer> = {};
    let bf = 'FROM scratch\n';
    for (let i = 0; i < 6; i++) {
      files[`l${i}`] = noise(12 << 20, i + 11);
      bf += `COPY l${i} /l${i}\n`;
    }
    const ctx = await context(join(await tmp.make(), 'ctx'), bf, files);
    expect((await tsb(src, ['build', '-q', '-t', 'local/many:1', '-f', join(ctx, 'Buildfile'), ctx], env)).code).toBe(
      0,
    );
    const pushed = await tsb(src, ['push', '--progress=plain', 'local/many:1', `${reg.host}/test/many:1`], env);
    expect(pushed.code, pushed.stderr).toBe(0);

    const res = await fetch(`${reg.url}/v2/test/many/manifests/1`, {
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    const layers = ((await res.json()) as { layers: { digest: string }[] }).layers.map((l) => l.digest);
    const failures: string[] = [];
    for (let round = 0; round < 4; round++) {
      const root = await tmp.make();
      proxy.faults.length = 0;
      // the last layer is refused outright, while the others are slowed by dropped connections (each resumed):
      // the pull fails with its other downloads part-way
      proxy.faults.push({
        method: 'GET',
        path: new RegExp(`/blobs/${layers.at(-1)}`),
        action: { kind: 'status', status: 404 },
        times: 1000,
      });
      proxy.faults.push({
        method: 'GET',
        path: /\/blobs\/sha256:/,
        action: { kind: 'drop', afterBytes: 6 << 20 },
        skip: 1,
        times: 6,
      });
      const p = start(root, ['pull', '--progress=plain', `${proxy.host}/test/many:1`], env);
      // a pull that stalls fails the round instead of the whole test timing out
      const t = setTimeout(() => p.child.kill('SIGKILL'), 40000);
      const r = await p.done;
      clearTimeout(t);
      expect(r.code, r.stderr).toBe(1);
      const left = temps(root);
      if (left.length > 0) failures.push(`round ${round}: ${left.join(', ')}`);
    }
    expect(failures).toEqual([]);
  });
});
