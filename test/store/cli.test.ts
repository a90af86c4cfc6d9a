// The store commands through the real CLI: images, inspect, rmi (by name and by id prefix), prune, import errors.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTemps, tempDir, tsbuild } from './helpers.js';

afterAll(cleanupTemps);

async function rootfsTar(base: string, content: string): Promise<string> {
  const dir = join(base, `rootfs-${content}`);
  fs.mkdirSync(join(dir, 'etc'), { recursive: true });
  fs.writeFileSync(join(dir, 'etc/content'), content);
  const f = `${dir}.tar`;
  execFileSync('tar', ['-C', dir, '-cf', f, '.']);
  return f;
}

describe('store commands', () => {
  it('images, inspect, rmi and prune', async () => {
    const base = await tempDir();
    const root = join(base, 'store');
    expect(tsbuild(root, ['import', await rootfsTar(base, 'one'), 'app:1']).code).toBe(0);
    expect(tsbuild(root, ['import', await rootfsTar(base, 'two'), 'example.com/team/app:2']).code).toBe(0);

    const table = tsbuild(root, ['images']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID/);
    expect(table.stdout).toMatch(/^app\s+1\s+[0-9a-f]{12}/m);
    expect(table.stdout).toMatch(/^example\.com\/team\/app\s+2\s+/m);
    const rows = JSON.parse(tsbuild(root, ['images', '--json']).stdout) as {
      name: string;
      id: string;
      digest: string;
      size: number;
    }[];
    expect(rows.map((r) => r.name)).toEqual(['docker.io/library/app:1', 'example.com/team/app:2']);

    const ins = JSON.parse(tsbuild(root, ['inspect', 'app:1']).stdout) as {
      digest: string;
      id: string;
      layers: { size: number; diffID: string }[];
      config: { architecture: string };
    };
    expect(ins.digest).toBe(rows[0]!.digest);
    expect(ins.layers).toHaveLength(1);
    expect(ins.layers[0]!.size).toBeGreaterThan(0);
    expect(ins.config.architecture).toBeTruthy();
    // by id prefix and by digest
    expect(JSON.parse(tsbuild(root, ['inspect', ins.id.slice(7, 19)]).stdout).digest).toBe(ins.digest);
    expect(JSON.parse(tsbuild(root, ['inspect', ins.digest]).stdout).id).toBe(ins.id);

    const missing = tsbuild(root, ['inspect', 'nope:1']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('not in the store');

    expect(tsbuild(root, ['rmi', rows[1]!.id.slice(7, 19)]).stdout).toContain('Untagged: example.com/team/app:2');
    expect(tsbuild(root, ['rmi', 'app:1']).stdout).toContain('Untagged: docker.io/library/app:1');
    expect(JSON.parse(tsbuild(root, ['images', '--json']).stdout)).toEqual([]);
    const pr = JSON.parse(tsbuild(root, ['prune', '--json']).stdout) as { blobs: number };
    expect(pr.blobs).toBe(6);
    expect(fs.readdirSync(join(root, 'blobs/sha256'))).toEqual([]);
    expect(tsbuild(root, ['store', 'verify']).code).toBe(0);
  });

  it('save of a missing image and load of a non-archive fail with exit 1 and a message', async () => {
    const base = await tempDir();
    const root = join(base, 'store');
    const s = tsbuild(root, ['save', 'nothing:here', '-o', join(base, 'x.tar')]);
    expect(s.code).toBe(1);
    expect(fs.existsSync(join(base, 'x.tar'))).toBe(false);
    const f = await rootfsTar(base, 'plain');
    const l = tsbuild(root, ['load', '-i', f]);
    expect(l.code).toBe(1);
    expect(l.stderr).toMatch(/neither an OCI layout archive/);
    expect(tsbuild(root, ['save', 'x']).code).toBe(2);
  });
});
