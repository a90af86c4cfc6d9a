import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkOverlayXattrs } from './overlay-xattrs.js';

let dir: string | undefined;
afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));
const store = (): string => (dir = mkdtempSync(join(tmpdir(), 'tsbuild-xattrs-')));

describe('checkOverlayXattrs', () => {
  it('records the namespace of a new store and keeps to it', async () => {
    const root = store();
    await checkOverlayXattrs(root, 'user');
    expect(readFileSync(join(root, 'overlay-xattrs'), 'utf8')).toBe('user\n');
    await checkOverlayXattrs(root, 'user');
    await expect(checkOverlayXattrs(root, 'trusted')).rejects.toMatchObject({
      code: 'STORE_XATTR_NAMESPACE',
      hint: expect.stringContaining('--mode rootless'),
    });
  });

  it("a store from before the record that holds layers is root's", async () => {
    const root = store();
    mkdirSync(join(root, 'layers', 'abc'), { recursive: true });
    await expect(checkOverlayXattrs(root, 'user')).rejects.toThrow(
      /holds layers unpacked as root \(trusted.overlay xattrs\), which a rootless run cannot use/,
    );
    await checkOverlayXattrs(root, 'trusted');
  });
});
