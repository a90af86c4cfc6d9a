// The builder's two uses of the registry client, loaded only when needed: pulling a base image that is not in
// the store, and pushing the result (`--push`).
import { join } from 'node:path';
import { parseReference } from '../oci/reference.js';
import type { Descriptor, Platform } from '../oci/types.js';
import type { ImageRecord, Store } from '../store/api.js';
import type { BuildEvent } from './events.js';
import type { BuildOptions } from './options.js';

/** Same settings as `tsbuild pull/push`: the state dir records which repository holds which blob, for cross-repo mounts. */
function registryOpts(opts: BuildOptions, store: Store): { mirrors: string[]; insecure: string[]; stateDir: string } {
  return { mirrors: opts.registryMirrors ?? [], insecure: opts.insecureRegistries ?? [], stateDir: join(store.root, 'registry-state') };
}

/** `absent`: the store has no image under `name` (not a `--pull` of one it has). */
export async function pullForBuild(store: Store, name: string, platform: Platform, opts: BuildOptions, emit: (e: BuildEvent) => void, absent = false): Promise<ImageRecord> {
  const { pullImage } = await import('../registry-client/pull.js');
  const ref = parseReference(name);
  await pullImage(ref, store, {
    ...registryOpts(opts, store),
    platform,
    // Manifest and config only: the layers are recorded with this registry as their source and come in (unpacked
    // while they download) when a RUN first needs the base filesystem; a build whose steps all hit the cache, or
    // that only adds files, never downloads them.
    lazy: true,
    absent,
    onProgress: (p) => {
      if (p.kind === 'blob' && (p.action === 'download' || p.action === 'done' || p.action === 'exists')) {
        emit({ type: 'pull-progress', time: Date.now(), ref: name, digest: p.digest, current: p.action === 'download' ? p.transferred : p.size, total: p.size });
      }
    },
  });
  const rec = await store.resolveImage(name, platform);
  if (!rec) throw new Error(`pulled ${name} but the store cannot resolve it for ${platform.os}/${platform.architecture}`);
  return rec;
}

/** Pushes the image to every tag's registry; returns the manifest digest as pushed (layers compressed). */
export async function pushResult(store: Store, manifest: Descriptor, tags: string[], opts: BuildOptions, emit: (e: BuildEvent) => void): Promise<string> {
  const { pushImage } = await import('../registry-client/index.js');
  const r = await pushImage(store, manifest, tags.map((t) => parseReference(t)), {
    ...registryOpts(opts, store),
    onProgress: (p) => {
      if (p.kind === 'blob' && (p.action === 'upload' || p.action === 'done' || p.action === 'exists' || p.action === 'mount')) {
        emit({ type: 'push-progress', time: Date.now(), ref: tags.join(', '), digest: p.digest, current: p.action === 'upload' ? p.transferred : p.size, total: p.size });
      }
    },
  });
  return r.digest;
}
