// Tagging what a tag names already leaves index.json as it is: a no-op rebuild writes (and fsyncs) no index. A tag
// that moves, or a new one, still rewrites it and its last good copy.
import { statSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../store/index.js';
import type { Descriptor, Digest } from '../../oci/index.js';
import { cleanupTemps, tempDir } from './helpers.js';

afterAll(cleanupTemps);

const desc = (c: string): Descriptor => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${c.repeat(64)}` as Digest,
  size: 100,
});

describe('tagging an unchanged image', () => {
  it('leaves index.json alone; a moved or new tag rewrites it', async () => {
    const root = await tempDir();
    const store = await openStore(root);
    try {
      const index = join(root, 'index.json');
      const names = (): string[] =>
        (
          JSON.parse(readFileSync(index, 'utf8')) as { manifests: { annotations: Record<string, string> }[] }
        ).manifests.map(
          (m) => `${m.annotations['org.opencontainers.image.ref.name']}=${JSON.stringify(m).match(/sha256:(.)/)![1]}`,
        );
      await store.images.tag('a:1', desc('a'));
      await store.images.tag('b:1', desc('b'));
      const first = statSync(index);
      await store.images.tag('a:1', desc('a'));
      const again = statSync(index);
      expect(again.ino).toBe(first.ino); // written files are renamed into place: a new inode each time
      expect(again.mtimeMs).toBe(first.mtimeMs);
      expect(names()).toEqual(['docker.io/library/a:1=a', 'docker.io/library/b:1=b']);

      await store.images.tag('a:1', desc('c'));
      expect(statSync(index).ino).not.toBe(first.ino);
      expect(names()).toEqual(['docker.io/library/b:1=b', 'docker.io/library/a:1=c']);
      expect(readFileSync(join(root, 'index.json.bak'), 'utf8')).toBe(readFileSync(index, 'utf8'));
    } finally {
      await store.close();
    }
  });
});
