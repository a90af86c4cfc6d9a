// Where a store makes trees of thousands of files (a step's upper directory, an unpacked layer, a build's temporary
// directory with its Git checkout), the parent is marked as ext4's top of directory hierarchies (`chattr +T`), so
// each new tree goes to a block group of its own rather than among inodes just freed (store/xattr.ts markTopDir).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../store/index.js';
import { cleanupTemps, tempDir, tsbuild } from './helpers.js';

afterAll(cleanupTemps);

const flags = (dir: string): string => execFileSync('lsattr', ['-d', dir], { encoding: 'utf8' }).split(/\s+/)[0]!;

describe('top directories', () => {
  it('a store marks run, layers and tmp, and a build its temporary root, before anything is made in them', async () => {
    const base = await tempDir('tsbuild-topdir-');
    // the machines this runs on keep /tmp on ext4, where the flag exists
    expect(execFileSync('stat', ['-f', '-c', '%T', base], { encoding: 'utf8' }).trim()).toBe('ext2/ext3');
    const root = join(base, 'store');
    const store = await openStore(root);
    await store.close();
    for (const d of ['run', 'layers', 'tmp']) expect(flags(join(root, d)), d).toContain('T');
    // a store made before the mark gets it when it is opened
    execFileSync('chattr', ['-T', join(root, 'layers')]);
    await (await openStore(root)).close();
    expect(flags(join(root, 'layers'))).toContain('T');

    const ctx = join(base, 'ctx');
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'Buildfile'), 'FROM scratch\nCOPY f /f\n');
    writeFileSync(join(ctx, 'f'), 'f\n');
    const b = tsbuild(root, ['build', '-q', ctx]);
    expect(b.code, b.stderr).toBe(0);
    expect(flags(join(root, 'builder', 'tmp'))).toContain('T');
  });
});
