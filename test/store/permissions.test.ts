// The store is private to root (moby CVE-2021-41091): a setuid-root binary a RUN or a pulled layer made cannot be
// reached, let alone run, by another local user; an old store (0755) is closed when it is opened; and a layer whose
// tar does not hash to the diffID its image lists leaves no unpacked tree, short link or temp dir behind.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { digestOf } from '../../oci/digest.js';
import { MediaType, type Descriptor, type Digest } from '../../oci/types.js';
import { openStore } from '../../store/index.js';
import { encodeHeader, END_OF_ARCHIVE, paddingFor } from '../../store/layer-tar/tar-header.js';
import { cleanupTemps, tempDir } from './helpers.js';

afterAll(cleanupTemps);

/**
 * Runs argv as nobody (uid/gid 65534, no supplementary groups), through a shell that runs as nobody already:
 * setpriv's own exec of a program path is not subject to the path's directory permissions.
 */
function asNobody(argv: string[]): { code: number; out: string } {
  const r = spawnSync(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', 'exec "$@"', 'sh', ...argv],
    { encoding: 'utf8' },
  );
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** A temp dir any user may enter (mkdtemp makes 0700, which would hide the store whatever its own modes). */
async function openParent(): Promise<string> {
  const base = await tempDir('tsbuild-perm-test-');
  fs.chmodSync(base, 0o755);
  return base;
}

/** Commits a layer holding a setuid-root copy of id(1); returns the file's path inside the store. */
async function commitSetuid(store: Awaited<ReturnType<typeof openStore>>, base: string): Promise<string> {
  const upper = join(base, 'upper');
  fs.mkdirSync(upper);
  fs.copyFileSync('/usr/bin/id', join(upper, 'suid-id'));
  fs.chmodSync(join(upper, 'suid-id'), 0o4755);
  const { diffID } = await store.layers.commit(upper);
  return join(store.root, 'layers', diffID.slice('sha256:'.length), 'diff', 'suid-id');
}

describe('store permissions', () => {
  it('a fresh store is closed to other users: its layers cannot be listed nor a setuid file in them run', async () => {
    const base = await openParent();
    const store = await openStore(join(base, 'store'));
    try {
      const suid = await commitSetuid(store, base);
      expect(fs.statSync(suid).mode & 0o7777).toBe(0o4755);
      expect(fs.statSync(store.root).mode & 0o777).toBe(0o700);
      for (const d of ['layers', 'l', 'blobs', 'run', 'tmp', 'builder'])
        expect(fs.statSync(join(store.root, d)).mode & 0o777).toBe(0o700);
      expect(asNobody(['ls', join(store.root, 'layers')]).code).not.toBe(0);
      const run = asNobody([suid, '-u']);
      expect(run.code).not.toBe(0);
      expect(run.out).not.toMatch(/^0$/m);
    } finally {
      await store.close();
    }
  });

  it('opening a store an older tsbuild made 0755 closes it', async () => {
    const base = await openParent();
    const root = join(base, 'store');
    const first = await openStore(root);
    const suid = await commitSetuid(first, base);
    await first.close();
    // The old layout: the root and every directory at its top level open to all.
    fs.chmodSync(root, 0o755);
    for (const e of fs.readdirSync(root, { withFileTypes: true }))
      if (e.isDirectory()) fs.chmodSync(join(root, e.name), 0o755);
    // the attack the repair closes: nobody runs the setuid-root file straight from the layer
    expect(asNobody([suid, '-u']).out.trim()).toBe('0');

    const store = await openStore(root);
    try {
      expect(fs.statSync(root).mode & 0o777).toBe(0o700);
      for (const e of fs.readdirSync(root, { withFileTypes: true }))
        if (e.isDirectory()) expect(fs.statSync(join(root, e.name)).mode & 0o777).toBe(0o700);
      expect(asNobody(['ls', join(root, 'layers')]).code).not.toBe(0);
      expect(asNobody([suid, '-u']).code).not.toBe(0);
    } finally {
      await store.close();
    }
  });
});

function tarOf(files: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, text] of Object.entries(files)) {
    const body = Buffer.from(text);
    parts.push(
      encodeHeader({ name, type: 'file', mode: 0o4755, uid: 0, gid: 0, mtime: 0, size: body.length }),
      body,
      paddingFor(body.length),
    );
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

/** What an unpack leaves in the store: layer dirs (temp ones included) and short links. */
function unpacked(root: string): string[] {
  return [
    ...fs.readdirSync(join(root, 'layers')).map((n) => `layers/${n}`),
    ...fs.readdirSync(join(root, 'l')).map((n) => `l/${n}`),
  ];
}

describe('a layer whose tar does not match its diffID', () => {
  // A gzip layer: the store has no diffID record for it, so the tar is unpacked and hashed before the check.
  const tar = tarOf({ 'bin/payload': '#!/bin/sh\necho pwned\n' });
  const gz = gzipSync(tar);
  const layer: Descriptor = { mediaType: MediaType.OciLayerGzip, digest: digestOf(gz), size: gz.length };
  const lie = digestOf(Buffer.from('another tar')) as Digest;

  it('streamed (a pull) leaves no unpacked tree, link or temp dir', async () => {
    const base = await tempDir();
    const store = await openStore(join(base, 'store'));
    try {
      await expect(store.layers.unpackStream(layer, Readable.from([gz]), Promise.resolve(lie))).rejects.toThrow(
        /unpacks to diffID .* but its image config lists/,
      );
      expect(unpacked(store.root)).toEqual([]);
      expect(await store.layers.diffIDOf(layer)).toBeUndefined();
      // the same layer with the diffID it really has unpacks
      const ok = await store.layers.unpackStream(layer, Readable.from([gz]), Promise.resolve(digestOf(tar)));
      expect(ok.diffID).toBe(digestOf(tar));
    } finally {
      await store.close();
    }
  });

  it('from a stored blob leaves no unpacked tree, link or temp dir', async () => {
    const base = await tempDir();
    const store = await openStore(join(base, 'store'));
    try {
      await store.blobs.put(Readable.from([gz]), { digest: layer.digest, size: layer.size });
      await expect(store.layers.unpack(layer, lie)).rejects.toThrow(/unpacks to diffID .* but its image config lists/);
      expect(unpacked(store.root)).toEqual([]);
      expect(await store.layers.diffIDOf(layer)).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('already unpacked under its true diffID: refused for an image that lists another', async () => {
    const base = await tempDir();
    const store = await openStore(join(base, 'store'));
    try {
      await store.blobs.put(Readable.from([gz]), { digest: layer.digest, size: layer.size });
      await store.layers.unpack(layer);
      await expect(store.layers.unpack(layer, lie)).rejects.toThrow(/but its image config lists/);
      await expect(
        store.layers.lowerdirsFor({
          manifest: { schemaVersion: 2, mediaType: MediaType.OciManifest, config: layer, layers: [layer] },
          config: { rootfs: { type: 'layers', diff_ids: [lie] } },
        } as never),
      ).rejects.toThrow(/but its image config lists/);
    } finally {
      await store.close();
    }
  });
});
