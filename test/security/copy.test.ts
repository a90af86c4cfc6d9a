// Issue #13, COPY and ADD against a hostile Buildfile, context or stage: writes that would follow a symlink an
// earlier source of the same step placed (items 2), wildcards read through symlinks out of the context or stage
// (4), .dockerignore bypassed through an alias (10), and --chown names read through an image's symlinks (10).
// Each attack aims at a victim directory on the host; every test checks that the victim is exactly as it was,
// and that the build either fails with a clear error or gives what BuildKit gives.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RegistryFixture } from '../fixtures/registry.js';
import { closeBuildEnv, makeBuildEnv } from '../builder/helpers/env.js';
import { ok, type Tsb } from '../builder/helpers/tsb.js';

let registry: RegistryFixture;
let root: string;
let work: string;
let tsb: Tsb;
let victim: string;
const SECRET = 'host secret: must never reach an image\n';

beforeAll(async () => {
  ({ registry, root, work, tsb } = await makeBuildEnv('sec-copy'));
});

afterAll(async () => {
  await closeBuildEnv({ registry, root, work });
});

beforeEach(async () => {
  victim = await mkdtemp(join(work, 'victim-'));
  await writeFile(join(victim, 'secret.txt'), SECRET);
  await writeFile(join(victim, 'passwd'), 'evil:x:4242:4343:evil:/:/bin/sh\n');
  await mkdir(join(victim, 'sub'));
  await writeFile(join(victim, 'sub/keep'), 'keep\n');
});

/** Every entry under `dir`: type, mode, owner, size, mtime, content hash or link target. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const visit = (rel: string): void => {
    const abs = join(dir, rel);
    const st = lstatSync(abs);
    const what = st.isSymbolicLink()
      ? `-> ${readlinkSync(abs)}`
      : st.isFile()
        ? createHash('sha256').update(readFileSync(abs)).digest('hex')
        : '';
    out.push(`${rel} ${st.mode.toString(8)} ${st.uid}:${st.gid} ${st.size} ${st.mtimeMs} ${what}`);
    if (st.isDirectory()) for (const n of readdirSync(abs).sort()) visit(rel ? `${rel}/${n}` : n);
  };
  visit('');
  return out;
}

/** Runs `attack` and checks the victim directory did not change in any way. */
async function untouched<T>(attack: () => Promise<T> | T): Promise<T> {
  const before = snapshot(victim);
  const r = await attack();
  expect(snapshot(victim)).toEqual(before);
  return r;
}

async function context(name: string, buildfile: string): Promise<string> {
  const dir = await mkdtemp(join(work, `${name}-`));
  await writeFile(join(dir, 'Buildfile'), buildfile);
  return dir;
}

async function put(dir: string, rel: string, content: string, mode = 0o644): Promise<void> {
  await mkdir(join(dir, rel, '..'), { recursive: true });
  await writeFile(join(dir, rel), content);
  chmodSync(join(dir, rel), mode);
}

async function link(dir: string, rel: string, target: string): Promise<void> {
  await mkdir(join(dir, rel, '..'), { recursive: true });
  await symlink(target, join(dir, rel));
}

/** A tar of `files` (name → content, or `-> target` for a symlink), made by GNU tar. */
async function archive(path: string, files: Record<string, string>, compress?: 'gzip' | 'bzip2' | 'xz'): Promise<void> {
  const src = await mkdtemp(join(work, 'tar-src-'));
  for (const [name, c] of Object.entries(files)) {
    if (c.startsWith('-> ')) await link(src, name, c.slice(3));
    else await put(src, name, c, 0o4755);
  }
  execFileSync('tar', ['-C', src, '-cf', path, ...(compress ? [`--${compress}`] : []), ...Object.keys(files)]);
  await rm(src, { recursive: true, force: true });
}

function inImage(image: string, script: string): string {
  const r = tsb(['run', image, 'sh', '-c', script]);
  ok(r, `run in ${image}`);
  return r.stdout;
}

describe('COPY/ADD never write through a symlink an earlier source placed', () => {
  it('COPY a b /dest/: b/f replaces the symlink a/f, b/d/g goes into a real directory', async () => {
    const dir = await context('two-sources', 'FROM busybox:latest\nCOPY a b /dest/\n');
    await link(dir, 'a/f', join(victim, 'planted'));
    await link(dir, 'a/d', victim);
    await link(dir, 'a/s', join(victim, 'secret.txt'));
    await put(dir, 'b/f', '#!/bin/sh\necho setuid\n', 0o4755);
    await put(dir, 'b/d/g', 'g\n');
    await put(dir, 'b/s', 'replaced\n');
    await untouched(() => ok(tsb(['build', '-q', '-t', 'sec-two:1', dir]), 'build'));
    // as BuildKit: the later source replaces the earlier one
    expect(inImage('sec-two:1', 'stat -c "%n %a %F" /dest/f /dest/d /dest/d/g /dest/s; cat /dest/s')).toBe(
      '/dest/f 4755 regular file\n/dest/d 755 directory\n/dest/d/g 644 regular file\n/dest/s 644 regular file\nreplaced\n',
    );
  });

  it('COPY --from a stage whose /a/f is a symlink to the host and /b/f a setuid file', async () => {
    const dir = await context(
      'from-two',
      [
        'FROM busybox:latest AS s',
        `RUN mkdir -p /a /b && ln -s ${victim}/planted /a/f && ln -s ${victim} /a/d && echo x > /b/f && chmod 4755 /b/f && mkdir /b/d && echo g > /b/d/g`,
        'FROM busybox:latest',
        'COPY --from=s /a /b /dest/',
        '',
      ].join('\n'),
    );
    await untouched(() => ok(tsb(['build', '-q', '-t', 'sec-from-two:1', dir]), 'build'));
    expect(inImage('sec-from-two:1', 'stat -c "%n %a %F" /dest/f /dest/d/g')).toBe(
      '/dest/f 4755 regular file\n/dest/d/g 644 regular file\n',
    );
  });

  it("ADD of two archives: the second replaces a file but never writes through the first one's directory link", async () => {
    const dir = await context('two-archives', 'FROM busybox:latest\nADD one.tar two.tar.gz /dest/\n');
    await archive(join(dir, 'one.tar'), { f: `-> ${victim}/planted`, d: `-> ${victim}` });
    await archive(join(dir, 'two.tar.gz'), { f: 'setuid\n' }, 'gzip');
    await untouched(() => ok(tsb(['build', '-q', '-t', 'sec-arch:1', dir]), 'build'));
    expect(inImage('sec-arch:1', 'stat -c "%n %a %F" /dest/f; readlink /dest/d')).toBe(
      `/dest/f 4755 regular file\n${victim}\n`,
    );

    const through = await context('arch-through', 'FROM busybox:latest\nADD one.tar three.tar.xz /dest/\n');
    await archive(join(through, 'one.tar'), { d: `-> ${victim}` });
    await archive(join(through, 'three.tar.xz'), { 'd/planted': 'setuid\n' }, 'xz');
    const r = await untouched(() => tsb(['build', '-q', through]));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/ADD: extracting three\.tar\.xz failed: .*symlink "d"/);
  });

  it("ADD of a directory then an archive: nothing is written through the directory's symlink", async () => {
    const dir = await context('dir-archive', 'FROM busybox:latest\nADD src arch.tar.bz2 /dest/\n');
    await link(dir, 'src/d', victim);
    await archive(join(dir, 'arch.tar.bz2'), { 'd/planted': 'setuid\n', 'd/secret.txt': 'overwritten\n' }, 'bzip2');
    const r = await untouched(() => tsb(['build', '-q', dir]));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/ADD: extracting arch\.tar\.bz2 failed/);
  });

  it('COPY a/* b/* /dest/: the file b/f replaces the symlink a/f instead of writing through it', async () => {
    const dir = await context('files-over-link', 'FROM busybox:latest\nCOPY a/* b/* /dest/\n');
    await link(dir, 'a/f', join(victim, 'planted'));
    await put(dir, 'b/f', 'setuid\n', 0o4755);
    await untouched(() => ok(tsb(['build', '-q', '-t', 'sec-files:1', dir]), 'build'));
    expect(inImage('sec-files:1', 'stat -c "%n %a %F" /dest/f; cat /dest/f')).toBe(
      '/dest/f 4755 regular file\nsetuid\n',
    );
  });
});

describe('COPY wildcards resolve every matched prefix inside the root', () => {
  it('COPY lnk/* with lnk -> the host directory reads nothing of the host', async () => {
    const dir = await context('wild-ctx', 'FROM busybox:latest\nCOPY lnk/* /out/\n');
    await link(dir, 'lnk', victim);
    const r = await untouched(() => tsb(['build', '-q', '-t', 'sec-wild:1', dir]));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/"lnk\/\*": not found in the build context/);
  });

  it('COPY up/victim-*/secret.txt through up -> .. reads nothing of the host', async () => {
    const dir = await context('wild-up', 'FROM busybox:latest\nCOPY up/victim-*/secret.txt /out/\n');
    // on the host, `..` of the context is the work directory that holds the victim; inside the root it is the root
    await link(dir, 'up', '..');
    const r = await untouched(() => tsb(['build', '-q', dir]));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/not found in the build context/);
  });

  it('COPY --from=s /lnk/* with /lnk -> the host directory reads nothing of the host', async () => {
    const dir = await context(
      'wild-stage',
      `FROM busybox:latest AS s\nRUN ln -s ${victim} /lnk\nFROM busybox:latest\nCOPY --from=s /lnk/* /out/\n`,
    );
    const r = await untouched(() => tsb(['build', '-q', '-t', 'sec-wild-stage:1', dir]));
    if (r.code === 0)
      expect(inImage('sec-wild-stage:1', 'cat /out/secret.txt 2>/dev/null; true')).not.toContain('host secret');
    else expect(r.stderr).toMatch(/not found/);
  });
});

describe('.dockerignore applies to what a path resolves to', () => {
  it('an alias (alias -> .) and a wildcard under d -> . do not reach an ignored file', async () => {
    const dir = await context('ignore', 'FROM busybox:latest\nCOPY d/* /out/\n');
    await writeFile(join(dir, '.dockerignore'), 'secret.txt\n');
    await put(dir, 'secret.txt', 'ignored secret\n');
    await put(dir, 'keep.txt', 'kept\n');
    await link(dir, 'd', '.');
    await link(dir, 'alias', '.');
    await untouched(() => ok(tsb(['build', '-q', '-t', 'sec-ignore:1', dir]), 'build'));
    expect(inImage('sec-ignore:1', 'cat /out/keep.txt; ls /out/secret.txt 2>&1 >/dev/null | wc -l')).toBe('kept\n1\n');

    await writeFile(join(dir, 'Buildfile'), 'FROM busybox:latest\nCOPY alias/secret.txt /x\n');
    const r = tsb(['build', '-q', dir]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/"alias\/secret.txt": not found in the build context \(or excluded by .dockerignore\)/);
  });
});

describe('--chown names are read inside the image', () => {
  it('an image /etc/passwd -> host file is resolved inside the image, not on the host', async () => {
    const dir = await context(
      'chown',
      `FROM busybox:latest\nRUN ln -sf ${victim}/passwd /etc/passwd\nCOPY --chown=evil f /f\n`,
    );
    await put(dir, 'f', 'f\n');
    const r = await untouched(() => tsb(['build', '-q', dir]));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unable to find user evil/);
  });
});
