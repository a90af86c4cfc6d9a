// root-fd: paths an untrusted party shaped are resolved by the kernel inside their root.
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  writeSync,
  existsSync,
  closeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { createFileAt, mkdirAllIn, openIn, openRoot, RootEscapeError } from '../../runtime/root-fd.js';
import { O } from '../../runtime/libc.js';

const base = mkdtempSync(join(tmpdir(), 'tsb-rootfd-'));
const root = join(base, 'root');
const victim = join(base, 'victim');
mkdirSync(root);
mkdirSync(victim);
writeFileSync(join(victim, 'secret'), 'host');
symlinkSync('/', join(root, 'up'));
symlinkSync('../../victim', join(root, 'rel'));
symlinkSync(victim, join(root, 'abs'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('root-fd', () => {
  test.each(['up/victim/secret', 'rel/secret', 'abs/secret', '../victim/secret'])(
    'inRoot keeps %s inside the root',
    (p) => {
      const r = openRoot(root);
      try {
        expect(() => openIn(r, p, O.RDONLY)).toThrow(/ENOENT/);
      } finally {
        r.close();
      }
    },
  );

  test('beneath refuses any symlink on the way', () => {
    const r = openRoot(root);
    try {
      expect(() => openIn(r, 'abs/secret', O.RDONLY, 'beneath')).toThrow(RootEscapeError);
      expect(() => openIn(r, '../victim/secret', O.RDONLY, 'beneath')).toThrow(RootEscapeError);
    } finally {
      r.close();
    }
  });

  test('mkdirAllIn creates through in-root symlinks, never outside', () => {
    const r = openRoot(root);
    try {
      mkdirSync(join(root, 'inside'));
      symlinkSync('/inside', join(root, 'lnk'));
      closeSync(mkdirAllIn(r, '/lnk/made/here', 0o755));
      expect(existsSync(join(root, 'inside', 'made', 'here'))).toBe(true);
      // a link to a host path is a dangling link inside the root: refused, and the host is untouched
      expect(() => mkdirAllIn(r, '/abs/made', 0o755)).toThrow(/EEXIST/);
      expect(() => mkdirAllIn(r, '/up/x', 0o755)).not.toThrow();
      expect(existsSync(join(victim, 'made'))).toBe(false);
      expect(existsSync('/x')).toBe(false);
    } finally {
      r.close();
    }
  });

  test('createFileAt replaces a symlink instead of writing through it', () => {
    const r = openRoot(root);
    try {
      symlinkSync(join(victim, 'secret'), join(root, 'f'));
      const dir = mkdirAllIn(r, '/', 0o755);
      const fd = createFileAt(dir, 'f', 0o644);
      writeSync(fd, 'mine');
      closeSync(fd);
      closeSync(dir);
      expect(readFileSync(join(victim, 'secret'), 'utf8')).toBe('host');
      expect(readFileSync(join(root, 'f'), 'utf8')).toBe('mine');
    } finally {
      r.close();
    }
  });
});
