// An image may hold the same layer twice (a step that reproduces an earlier layer exactly). Overlay refuses a
// repeated lowerdir, so the runtime keeps only the top-most copy, which gives the same merged tree.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { overlayLowerOrder } from '../../runtime/overlay-order.js';
import { makeEnv, type Env } from './helpers.js';

describe('overlay lowerdir order', () => {
  it('is top-most first and keeps only the top-most copy of a repeated layer', () => {
    expect(overlayLowerOrder(['base', 'a', 'b', 'a', 'c'])).toEqual(['c', 'a', 'b', 'base']);
    expect(overlayLowerOrder([])).toEqual([]);
  });

  describe('a container over a layer list with a repeat', () => {
    let env: Env;
    beforeAll(async () => {
      env = await makeEnv();
    });
    afterAll(async () => {
      await env?.close();
    });

    it('mounts, and sees the top-most copy above the layers in between', async () => {
      const a = join(env.base, 'layer-a');
      const b = join(env.base, 'layer-b');
      await mkdir(a);
      await mkdir(b);
      await writeFile(join(a, 'f'), 'from a\n');
      await writeFile(join(b, 'f'), 'from b\n');
      await writeFile(join(b, 'g'), 'only b\n');
      const { upperdir, workdir } = await env.dirs();
      const r = await env.run(['/bin/cat', '/f', '/g'], {
        rootfs: { lowerdirs: [env.lower, a, b, a], upperdir, workdir },
      });
      expect(r.stderr).toBe('');
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toBe('from a\nonly b\n');
    });
  });
});
