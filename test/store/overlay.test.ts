// Whiteouts on a real overlay mount, and a 120-layer image whose lowerdirs mount as one overlay.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { MediaType, type Descriptor, type Digest } from '../../oci/types.js';
import { openStore, putJSON } from '../../store/index.js';
import { applyLayer } from '../../store/layer-tar/apply.js';
import { readTar } from '../../store/layer-tar/tar-reader.js';
import { cleanupTemps, isMounted, snapshot, tempDir } from './helpers.js';

const mounted: string[] = [];
function mount(opts: string, target: string, cwd?: string): void {
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', opts, target], cwd ? { cwd } : {});
  mounted.push(target);
}
function umountAll(): void {
  for (const m of mounted.splice(0).reverse()) if (isMounted(m)) execFileSync('umount', [m]);
}
afterEach(umountAll);
afterAll(cleanupTemps);

describe('overlay whiteouts', () => {
  it('diffs deletions and an opaque directory from a real upperdir, and the layer reproduces the merged view', async () => {
    const base = await tempDir();
    const store = await openStore(join(base, 'store'));
    try {
      const lower = join(base, 'lower');
      fs.mkdirSync(join(lower, 'd/sub'), { recursive: true });
      fs.mkdirSync(join(lower, 'keep'));
      fs.writeFileSync(join(lower, 'a'), 'a');
      fs.writeFileSync(join(lower, 'b'), 'b');
      fs.writeFileSync(join(lower, 'd/x'), 'x');
      fs.writeFileSync(join(lower, 'd/sub/y'), 'y');
      fs.writeFileSync(join(lower, 'keep/k'), 'k');
      const dirs = await store.containerDirs();
      const merged = join(base, 'merged');
      fs.mkdirSync(merged);
      mount(`lowerdir=${lower},upperdir=${dirs.upperdir},workdir=${dirs.workdir}`, merged);
      fs.rmSync(join(merged, 'a'));
      fs.rmSync(join(merged, 'd'), { recursive: true });
      fs.mkdirSync(join(merged, 'd'));
      fs.writeFileSync(join(merged, 'd/z'), 'z');
      fs.writeFileSync(join(merged, 'c'), 'c');
      fs.writeFileSync(join(merged, 'keep/k2'), 'k2');
      const want = snapshot(merged);
      umountAll();

      const layer = await store.layers.commit(dirs.upperdir);
      await dirs.release();
      expect(layer.empty).toBe(false);
      const names: string[] = [];
      for await (const e of readTar(await store.blobs.open(layer.diffID))) names.push(e.name);
      expect(names).toEqual(['.wh.a', 'c', 'd/', 'd/.wh..wh..opq', 'd/z', 'keep/', 'keep/k2']);

      // applied onto a copy of the lower, the layer gives exactly the merged view
      const applied = join(base, 'applied');
      fs.cpSync(lower, applied, { recursive: true });
      await applyLayer(await store.blobs.open(layer.diffID), applied);
      expect(snapshot(applied)).toEqual(want);

      // unpacked for overlay (from the gzip blob, in a second store), it stacks on the lower as the upper did
      const gz = await store.layers.compressed(layer.descriptor);
      const store2 = await openStore(join(base, 'store2'));
      await store2.blobs.put(fs.createReadStream(store.blobs.path(gz.digest)), { digest: gz.digest, size: gz.size });
      const unpacked = await store2.layers.unpack(gz);
      expect(unpacked.diffID).toBe(layer.diffID);
      const st = fs.lstatSync(join(unpacked.dir, 'a'));
      expect(st.isCharacterDevice() && st.rdev === 0).toBe(true);
      const view = join(base, 'view');
      fs.mkdirSync(view);
      mount(`lowerdir=${unpacked.dir}:${lower}`, view);
      expect(snapshot(view)).toEqual(want);
      umountAll();
      await store2.close();
    } finally {
      await store.close();
    }
  });
});

describe('deep images', () => {
  it('a 120-layer image mounts as one overlay through the short lowerdir links', async () => {
    const base = await tempDir();
    const root = join(base, 'a-rather-long-store-directory-name-to-make-absolute-paths-long');
    const store = await openStore(root);
    try {
      const layers: { descriptor: Descriptor; diffID: Digest }[] = [];
      for (let i = 0; i < 120; i++) {
        const dirs = await store.containerDirs();
        fs.writeFileSync(join(dirs.upperdir, `f${i}`), String(i));
        fs.writeFileSync(join(dirs.upperdir, 'top'), String(i));
        const c = await store.layers.commit(dirs.upperdir);
        await dirs.release();
        layers.push(c);
      }
      const config = await putJSON(
        store.blobs,
        {
          architecture: 'amd64',
          os: 'linux',
          config: {},
          rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffID) },
        },
        MediaType.OciConfig,
      );
      const manifest = await putJSON(
        store.blobs,
        { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: layers.map((l) => l.descriptor) },
        MediaType.OciManifest,
      );
      await store.images.tag('localhost/deep:120', manifest);
      const rec = await store.images.resolve('localhost/deep:120');
      const lowers = await store.layers.lowerdirsFor(rec!);
      expect(lowers).toHaveLength(120);
      // absolute paths would not fit in a page; the short links relative to the store root do
      expect(lowers.join(':').length).toBeGreaterThan(4096);
      const rel = lowers.map((l) => l.slice(root.length + 1)).reverse();
      for (const r of rel) expect(r).toMatch(/^l\/[A-Z2-7]{8}$/);
      const opts = `lowerdir=${rel.join(':')}`;
      expect(opts.length).toBeLessThan(4096);
      const merged = join(base, 'merged');
      fs.mkdirSync(merged);
      mount(opts, merged, root);
      expect(fs.readdirSync(merged)).toHaveLength(121);
      expect(fs.readFileSync(join(merged, 'f0'), 'utf8')).toBe('0');
      expect(fs.readFileSync(join(merged, 'top'), 'utf8')).toBe('119');
      umountAll();
    } finally {
      await store.close();
    }
  });
});
