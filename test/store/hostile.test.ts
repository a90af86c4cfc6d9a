// Hostile layer tars, each built here byte by byte: the unpacker refuses or neutralizes them and never writes
// outside its destination.
import * as fs from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { LayerError } from '../../store/errors.js';
import { encodeHeader, END_OF_ARCHIVE, paddingFor, type TarEntryHeader } from '../../store/layer-tar/tar-header.js';
import { unpackTar } from '../../store/layer-tar/unpack.js';
import { cleanupTemps, tempDir } from './helpers.js';

afterAll(cleanupTemps);

type E = Partial<TarEntryHeader> & { name: string; body?: string };

function tarOf(entries: E[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    parts.push(encodeHeader({ type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, size: body.length, ...e }));
    if (body.length > 0) parts.push(body, paddingFor(body.length));
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

async function setup(): Promise<{ base: string; dest: string; outside: string }> {
  const base = await tempDir();
  const dest = join(base, 'dest');
  const outside = join(base, 'outside');
  fs.mkdirSync(dest);
  fs.mkdirSync(outside);
  fs.writeFileSync(join(outside, 'secret'), 'do not touch');
  return { base, dest, outside };
}

const unpack = (tar: Buffer, dest: string, mode: 'overlay' | 'apply' = 'overlay'): Promise<unknown> =>
  unpackTar(Readable.from([tar]), dest, { mode });

describe('hostile layer tars', () => {
  it('refuses an entry that climbs out with ../', async () => {
    const { dest, base } = await setup();
    await expect(unpack(tarOf([{ name: '../escaped', body: 'x' }]), dest)).rejects.toThrow(LayerError);
    await expect(unpack(tarOf([{ name: 'a/../../escaped2', body: 'x' }]), dest)).rejects.toThrow(/climbs out/);
    expect(fs.existsSync(join(base, 'escaped'))).toBe(false);
    expect(fs.existsSync(join(base, 'escaped2'))).toBe(false);
  });

  it('takes absolute names relative to the root', async () => {
    const { dest, outside } = await setup();
    await unpack(
      tarOf([
        { name: `${outside}/secret`, body: 'overwritten?' },
        { name: '/etc/abs', body: 'inside' },
      ]),
      dest,
    );
    expect(fs.readFileSync(join(outside, 'secret'), 'utf8')).toBe('do not touch');
    expect(fs.readFileSync(join(dest, outside, 'secret'), 'utf8')).toBe('overwritten?');
    expect(fs.readFileSync(join(dest, 'etc/abs'), 'utf8')).toBe('inside');
  });

  it('refuses to write through a symlink placed earlier in the same layer', async () => {
    for (const mode of ['overlay', 'apply'] as const) {
      const { dest, outside } = await setup();
      const tar = tarOf([
        { name: 'link', type: 'symlink', linkname: outside },
        { name: 'link/secret', body: 'pwned' },
      ]);
      await expect(unpack(tar, dest, mode)).rejects.toThrow(/through the symlink/);
      expect(fs.readFileSync(join(outside, 'secret'), 'utf8')).toBe('do not touch');
      const rel = tarOf([
        { name: 'up', type: 'symlink', linkname: '../../outside' },
        { name: 'up/new', body: 'pwned' },
      ]);
      await expect(unpack(rel, dest, mode)).rejects.toThrow(LayerError);
      expect(fs.existsSync(join(outside, 'new'))).toBe(false);
    }
  });

  it('replaces a symlink by a file instead of writing through it', async () => {
    const { dest, outside } = await setup();
    await unpack(
      tarOf([
        { name: 'f', type: 'symlink', linkname: join(outside, 'secret') },
        { name: 'f', body: 'mine' },
      ]),
      dest,
    );
    expect(fs.readFileSync(join(outside, 'secret'), 'utf8')).toBe('do not touch');
    expect(fs.lstatSync(join(dest, 'f')).isFile()).toBe(true);
    expect(fs.readFileSync(join(dest, 'f'), 'utf8')).toBe('mine');
  });

  it('in apply mode, resolves a lower layer symlink inside the root, never outside it', async () => {
    const { dest, outside } = await setup();
    fs.mkdirSync(join(dest, 'usr/bin'), { recursive: true });
    fs.symlinkSync('usr/bin', join(dest, 'bin')); // merged /usr, as Debian has it
    fs.symlinkSync(outside, join(dest, 'evil')); // a lower layer's absolute symlink
    await unpack(
      tarOf([
        { name: 'bin/tool', body: 'tool' },
        { name: 'evil/secret', body: 'pwned' },
      ]),
      dest,
      'apply',
    );
    expect(fs.readFileSync(join(dest, 'usr/bin/tool'), 'utf8')).toBe('tool');
    expect(fs.readFileSync(join(outside, 'secret'), 'utf8')).toBe('do not touch');
    expect(fs.readFileSync(join(dest, outside, 'secret'), 'utf8')).toBe('pwned');
  });

  it('refuses hardlinks that point outside the layer', async () => {
    const { dest, outside } = await setup();
    await expect(unpack(tarOf([{ name: 'h', type: 'link', linkname: '../outside/secret' }]), dest)).rejects.toThrow(
      /climbs out/,
    );
    // an absolute target is taken inside the root, where it does not exist
    await expect(
      unpack(tarOf([{ name: 'h2', type: 'link', linkname: join(outside, 'secret') }]), dest),
    ).rejects.toThrow(/not in the layer|missing path/);
    // through a symlink placed earlier
    await expect(
      unpack(
        tarOf([
          { name: 's', type: 'symlink', linkname: outside },
          { name: 'h3', type: 'link', linkname: 's/secret' },
        ]),
        dest,
      ),
    ).rejects.toThrow(LayerError);
    expect(fs.statSync(join(outside, 'secret')).nlink).toBe(1);
  });

  it('refuses a giant PAX header', async () => {
    const { dest } = await setup();
    const huge = tarOf([{ name: 'x', xattrs: [['user.big', Buffer.alloc(2 << 20, 0x61)]], body: 'x' }]);
    await expect(unpack(huge, dest)).rejects.toThrow(/extended header .* refused/);
    expect(fs.existsSync(join(dest, 'x'))).toBe(false);
  });

  it('refuses garbage and does not take overlay xattrs from a tar', async () => {
    const { dest } = await setup();
    await expect(unpack(Buffer.alloc(2048, 0x41), dest)).rejects.toThrow(/checksum/);
    await unpack(
      tarOf([
        {
          name: 'd/',
          type: 'dir',
          mode: 0o755,
          xattrs: [
            ['trusted.overlay.redirect', Buffer.from('/etc')],
            ['user.ok', Buffer.from('1')],
          ],
        },
      ]),
      dest,
    );
    const { readXattrs } = await import('../../store/xattr.js');
    const xs = readXattrs(join(dest, 'd'));
    expect(xs.has('trusted.overlay.redirect')).toBe(false);
    expect(xs.get('user.ok')?.toString()).toBe('1');
  });
});
