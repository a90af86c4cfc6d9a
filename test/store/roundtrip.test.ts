// The layer codec round trip: a tree with every entry type → diff → unpack → the identical tree.
import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { DigestingStream } from '../../oci/digest.js';
import { diffDir } from '../../store/layer-tar/diff.js';
import { unpackTar } from '../../store/layer-tar/unpack.js';
import { cleanupTemps, makeRichTree, snapshot, tempDir } from './helpers.js';

afterAll(cleanupTemps);

async function diffToFile(dir: string, file: string, opts: { sourceDateEpoch?: number } = {}): Promise<string> {
  const h = new DigestingStream();
  await pipeline(diffDir(dir, { source: 'plain', ...opts }), h, createWriteStream(file));
  return h.digest();
}

describe('layer codec round trip', () => {
  it('diff then unpack gives back the identical tree: modes, owners, xattrs, links, devices, contents', async () => {
    const base = await tempDir();
    const src = join(base, 'src');
    const dst = join(base, 'dst');
    mkdirSync(src);
    mkdirSync(dst);
    makeRichTree(src);
    const tar = join(base, 'layer.tar');
    await diffToFile(src, tar);
    await unpackTar(Readable.from([readFileSync(tar)]), dst);
    const want = snapshot(src, { mtimes: true });
    const got = snapshot(dst, { mtimes: true });
    expect(got).toEqual(want);
    // the setuid bit survived ownership changes and the capability xattr survived byte for byte
    expect(got['suid']!.mode).toBe('4755');
    expect(got['suid']!.xattrs!['security.capability']).toBe(want['suid']!.xattrs!['security.capability']);
    expect(got['xattrs']!.xattrs!['user.binary']).toBe('00ff80c3280a');
    expect(got['hardlink-to-hosts']!.hardlinkGroup).toBe(got['etc/deep/second-hardlink']!.hardlinkGroup);
  });

  it('GNU tar reads the layer and sees the same entries (PAX long names, xattrs, hardlinks, devices)', async () => {
    const base = await tempDir();
    const src = join(base, 'src');
    mkdirSync(src);
    makeRichTree(src);
    const tar = join(base, 'layer.tar');
    await diffToFile(src, tar);
    const listing = execFileSync('tar', ['-tvf', tar, '--numeric-owner'], { encoding: 'utf8' });
    expect(listing).toMatch(/^c.* 1,\s*3 .*null$/m);
    expect(listing).toMatch(/^b.* 7,\s*9 .*loop9$/m);
    expect(listing).toMatch(/^h.*hardlink-to-hosts link to etc\/deep\/second-hardlink$/m);
    expect(listing).toContain(`${'f'.repeat(120)}.txt`);
    expect(listing).toMatch(/^-rwsr-xr-x 0\/0 .* suid$/m);
    const x = join(base, 'gnu');
    mkdirSync(x);
    execFileSync('tar', ['--xattrs', '--xattrs-include=*', '-xpf', tar, '-C', x]);
    const gnu = snapshot(x);
    const want = snapshot(src);
    // GNU tar restores contents, modes, owners, links and text xattrs identically
    for (const k of Object.keys(want)) {
      expect(gnu[k]?.type, k).toBe(want[k]!.type);
      expect(gnu[k]?.mode, k).toBe(want[k]!.mode);
      expect(gnu[k]?.owner, k).toBe(want[k]!.owner);
      expect(gnu[k]?.sha256, k).toBe(want[k]!.sha256);
      expect(gnu[k]?.link, k).toBe(want[k]!.link);
    }
    expect(gnu['xattrs']!.xattrs!['user.text']).toBe(want['xattrs']!.xattrs!['user.text']);
  });

  it('identical input gives an identical digest; SOURCE_DATE_EPOCH clamps mtimes', async () => {
    const base = await tempDir();
    const a = join(base, 'a');
    const b = join(base, 'b');
    mkdirSync(a);
    mkdirSync(b);
    makeRichTree(a);
    makeRichTree(b);
    // b differs only in mtimes (all "now"), so only clamping can make the digests agree
    const epoch = 946684800; // 2000-01-01
    execFileSync('sh', ['-c', `find ${a} -exec touch -h -d @1500000000 {} +`]);
    const da = await diffToFile(a, join(base, 'a.tar'), { sourceDateEpoch: epoch });
    const db = await diffToFile(b, join(base, 'b.tar'), { sourceDateEpoch: epoch });
    expect(da).toBe(db);
    expect(await diffToFile(a, join(base, 'a2.tar'), { sourceDateEpoch: epoch })).toBe(da);
    const unclampedA = await diffToFile(a, join(base, 'a3.tar'));
    const unclampedB = await diffToFile(b, join(base, 'b3.tar'));
    expect(unclampedA).not.toBe(unclampedB);
    const listing = execFileSync('tar', ['-tvf', join(base, 'a.tar'), '--full-time'], { encoding: 'utf8' });
    expect(listing).toContain('2000-01-01');
    expect(listing).not.toContain('2017-07-14');
  });
});
