// The build context: .dockerignore with exceptions and **, Buildfile.dockerignore precedence, wildcard sources,
// never leaving the context through a symlink, and content hashes that ignore times but not content or mode.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmod, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BuildContext, ContextError, parseIgnore } from '../../builder/context.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsbuild-ctx-'));
  await mkdir(join(dir, 'src/deep/er'), { recursive: true });
  await writeFile(join(dir, 'a.txt'), 'a');
  await writeFile(join(dir, 'b.txt'), 'b');
  await writeFile(join(dir, 'src/main.c'), 'int main;');
  await writeFile(join(dir, 'src/deep/er/x.log'), 'log');
  await writeFile(join(dir, 'src/deep/keep.log'), 'keep');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('build context', () => {
  it('applies .dockerignore with ! exceptions and **', async () => {
    await writeFile(join(dir, '.dockerignore'), '# comment\n**/*.log\n!src/deep/keep.log\nb.txt\n');
    const ctx = await BuildContext.openDir(dir);
    const rels = (await ctx.walk('')).map((e) => e.rel);
    expect(rels).toContain('src/deep/keep.log');
    expect(rels).not.toContain('src/deep/er/x.log');
    expect(rels).not.toContain('b.txt');
    await expect(ctx.resolveSource('b.txt')).rejects.toThrow(ContextError);
  });

  it('walks as a stream: a directory is read only when the walk reaches it', async () => {
    const ctx = await BuildContext.openDir(dir);
    const it = ctx.entries('');
    const head = [it.next().value?.rel, it.next().value?.rel, it.next().value?.rel];
    expect(head).toEqual(['', 'a.txt', 'b.txt']);
    // src/ has not been read yet: a file made now is seen
    await writeFile(join(dir, 'src/late.txt'), 'late');
    expect([...it].map((e) => e.rel)).toEqual([
      'src',
      'src/deep',
      'src/deep/er',
      'src/deep/er/x.log',
      'src/deep/keep.log',
      'src/late.txt',
      'src/main.c',
    ]);
  });

  it('holds an ignored directory back until an exception re-includes something below it', async () => {
    await mkdir(join(dir, 'src/other'));
    await writeFile(join(dir, 'src/other/x.log'), 'x');
    await writeFile(join(dir, '.dockerignore'), 'src\n!src/deep/keep.log\n');
    const ctx = await BuildContext.openDir(dir);
    expect([...ctx.entries('')].map((e) => e.rel)).toEqual([
      '',
      '.dockerignore',
      'a.txt',
      'b.txt',
      'src',
      'src/deep',
      'src/deep/keep.log',
    ]);
    // the stat fields a build reads, copied out of fs.Stats
    const e = [...ctx.entries('a.txt')][0]!;
    expect(Object.keys(e.stat).sort()).toEqual(
      ['atimeMs', 'ctimeMs', 'dev', 'gid', 'ino', 'mode', 'mtimeMs', 'nlink', 'size', 'uid'].sort(),
    );
  });

  it('prefers Buildfile.dockerignore beside the Buildfile', async () => {
    await writeFile(join(dir, '.dockerignore'), 'a.txt\n');
    await writeFile(join(dir, 'Buildfile.dockerignore'), 'b.txt\n');
    const ctx = await BuildContext.openDir(dir, { buildfile: join(dir, 'Buildfile') });
    expect(ctx.isIgnored('a.txt')).toBe(false);
    expect(ctx.isIgnored('b.txt')).toBe(true);
  });

  it('expands wildcards per path component', async () => {
    const ctx = await BuildContext.openDir(dir);
    expect((await ctx.resolveSource('*.txt')).map((x) => x.entry.rel)).toEqual(['a.txt', 'b.txt']);
    expect((await ctx.resolveSource('src/*.c')).map((x) => x.name)).toEqual(['main.c']);
    await expect(ctx.resolveSource('*.none')).rejects.toThrow(ContextError);
  });

  it('resolves a symlinked source inside the context, never outside it', async () => {
    await symlink('/etc/passwd', join(dir, 'escape'));
    await symlink('../../a.txt', join(dir, 'src/up'));
    const ctx = await BuildContext.openDir(dir);
    await expect(ctx.resolveSource('escape')).rejects.toThrow(ContextError); // /etc/passwd inside the context: absent
    const [up] = await ctx.resolveSource('src/up');
    expect(up!.entry.rel).toBe('a.txt');
    expect(up!.name).toBe('up');
  });

  it('hashes content and mode, not times; the memo notices a changed file', async () => {
    const memoDir = await mkdtemp(join(tmpdir(), 'tsbuild-memo-'));
    try {
      const hash = async (): Promise<string> => {
        const ctx = await BuildContext.openDir(dir, { memoDir });
        const items = await ctx.walk('src');
        const h = await ctx.hashEntries(items.map((e) => ({ name: e.rel, entry: e })));
        await ctx.close();
        return h;
      };
      const h1 = await hash();
      await utimes(join(dir, 'src/main.c'), new Date(1000), new Date(1000));
      expect(await hash()).toBe(h1);
      await writeFile(join(dir, 'src/main.c'), 'int main2;');
      const h2 = await hash();
      expect(h2).not.toBe(h1);
      await chmod(join(dir, 'src/main.c'), 0o755);
      expect(await hash()).not.toBe(h2);
    } finally {
      await rm(memoDir, { recursive: true, force: true });
    }
  });

  it('reads ignore files as Docker does', () => {
    expect(parseIgnore('# c\n/foo/\n!bar\n\n./baz\n')).toEqual(['foo', '!bar', 'baz']);
  });
});
