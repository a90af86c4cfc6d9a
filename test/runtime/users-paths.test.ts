// Pure parts of the runtime: USER resolution from passwd/group text, and path resolution that stays in a root.
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMountPoint, resolveInRoot } from '../../runtime/paths.js';
import { closeFd, openRoot } from '../../runtime/root-fd.js';
import { resolveUserFrom, UserError } from '../../runtime/users.js';

const PASSWD =
  'root:x:0:0:root:/root:/bin/sh\n# comment\nbuilder:x:1000:1000::/home/builder:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\n';
const GROUP = 'root:x:0:\nbuilder:x:1000:\nwheel:x:10:builder,alice\nstaff:x:50:alice\nnogroup:x:65534:\n';

describe('resolveUserFrom', () => {
  it('resolves a name to uid, primary gid, supplementary groups and home', () => {
    expect(resolveUserFrom('builder', PASSWD, GROUP)).toEqual({
      uid: 1000,
      gid: 1000,
      groups: [1000, 10],
      home: '/home/builder',
    });
  });
  it('defaults to root, and a uid finds its passwd entry', () => {
    expect(resolveUserFrom(undefined, PASSWD, GROUP)).toMatchObject({ uid: 0, gid: 0, home: '/root' });
    expect(resolveUserFrom('65534', PASSWD, GROUP)).toMatchObject({ uid: 65534, gid: 65534, home: '/nonexistent' });
  });
  it('takes numeric ids without entries, and an explicit group replaces the supplementary list', () => {
    expect(resolveUserFrom('4242:4343', '', '')).toEqual({ uid: 4242, gid: 4343, groups: [4343], home: '/' });
    expect(resolveUserFrom('builder:staff', PASSWD, GROUP)).toMatchObject({ uid: 1000, gid: 50, groups: [50] });
  });
  it("gives BuildKit's supplementary groups under the build rule: memberships only, none for uid:gid or root", () => {
    expect(resolveUserFrom('builder', PASSWD, GROUP, 'build')).toMatchObject({ uid: 1000, gid: 1000, groups: [10] });
    expect(resolveUserFrom('1000', PASSWD, GROUP, 'build')).toMatchObject({ uid: 1000, groups: [10] });
    expect(resolveUserFrom('1000:1000', PASSWD, GROUP, 'build')).toMatchObject({ uid: 1000, gid: 1000, groups: [] });
    expect(resolveUserFrom('builder:staff', PASSWD, GROUP, 'build')).toMatchObject({ gid: 50, groups: [] });
    expect(resolveUserFrom(undefined, PASSWD, 'wheel:x:10:root\n', 'build')).toMatchObject({ uid: 0, groups: [] });
    expect(resolveUserFrom('root', PASSWD, 'wheel:x:10:root\n', 'build')).toMatchObject({ uid: 0, groups: [10] });
  });
  it('names the missing user or group', () => {
    expect(() => resolveUserFrom('ghost', PASSWD, GROUP)).toThrow(UserError);
    expect(() => resolveUserFrom('ghost', PASSWD, GROUP)).toThrow(/ghost/);
    expect(() => resolveUserFrom('builder:ghosts', PASSWD, GROUP)).toThrow(/no group "ghosts"/);
  });
});

describe('resolveInRoot', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'tsbuild-paths-'));
    await mkdir(join(root, 'etc'));
    await mkdir(join(root, 'real'));
    await symlink('/', join(root, 'hostroot'));
    await symlink('../../../../..', join(root, 'up'));
    await symlink('/real', join(root, 'abs'));
    await symlink('loop2', join(root, 'loop1'));
    await symlink('loop1', join(root, 'loop2'));
    await symlink('/etc/shadow', join(root, 'etc/resolv.conf'));
    await writeFile(join(root, 'file'), '');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('clamps .. and absolute symlinks at the root', async () => {
    expect((await resolveInRoot(root, '/../../etc')).host).toBe(join(root, 'etc'));
    expect((await resolveInRoot(root, '/hostroot/etc/passwd')).host).toBe(join(root, 'etc/passwd'));
    expect((await resolveInRoot(root, '/up/etc')).host).toBe(join(root, 'etc'));
    expect((await resolveInRoot(root, '/abs/x')).inner).toBe('/real/x');
  });
  it('refuses symlink loops', async () => {
    await expect(resolveInRoot(root, '/loop1')).rejects.toThrow(/too many levels/);
  });
  it('a mount point behind a symlink to a host path is made inside the root', async () => {
    const r = openRoot(root);
    const created: string[] = [];
    const open = (p: string, kind: 'dir' | 'file'): string => {
      const mp = openMountPoint(r, p, kind, created);
      closeFd(mp.fd);
      return mp.path;
    };
    try {
      expect(open('/etc/resolv.conf', 'file')).toBe(join(root, 'etc/shadow'));
      expect(open('/new/dir', 'dir')).toBe(join(root, 'new/dir'));
      expect(() => open('/file/x', 'dir')).toThrow(/not a directory/);
      expect(created).toEqual(['/etc/shadow', '/new', '/new/dir']);
    } finally {
      r.close();
    }
  });
});
