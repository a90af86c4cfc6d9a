// The builder's two uses of the registry client, loaded only when needed: pulling a base image that is not in
// the store, and pushing the result (`--push`).
import { join } from 'node:path';
import { formatReference, mediaTypesFor, parseReference, type OutputLayers } from '../oci/index.js';
import type { Descriptor, ImageConfigFile, ImageManifest, Platform } from '../oci/index.js';
import type { ImageRecord, Store } from '../store/index.js';
import type { BuildEvent } from './events.js';
import type { BuildOptions, PushedImage } from './options.js';
import { describeRetry, loadRegistryClient, type PushOutput, type RegistryOptions } from '../registry-client/index.js';

/**
 * Same settings as `tsbuild pull/push`: the state dir records which repository holds which blob, for cross-repo mounts.
 */
function registryOpts(opts: BuildOptions, store: Store, emit: (e: BuildEvent) => void): RegistryOptions {
  return {
    mirrors: opts.registryMirrors ?? [],
    insecure: opts.insecureRegistries ?? [],
    stateDir: join(store.root, 'registry-state'),
    // a registry restarting while the build pulls or pushes: the progress says so while it waits
    onRetry: (n) => emit({ type: 'log', time: Date.now(), level: 'warn', message: describeRetry(n) }),
  };
}

/**
 * Pulls a base image for a build. `absent`: the store has no image under `name` (not a `--pull` of one it has).
 * Returns as soon as the manifest and config are known; `stored` settles when the store holds the pull (config
 * blob, lazy layer records, manifest, tag) — what reads the image's layers waits for it.
 */
export async function pullForBuild(
  store: Store,
  name: string,
  platform: Platform,
  opts: BuildOptions,
  emit: (e: BuildEvent) => void,
  absent = false,
): Promise<{ record: ImageRecord; stored: Promise<void> }> {
  const { pullImage } = await loadRegistryClient();
  const ref = parseReference(name);
  let known: ((r: ImageRecord) => void) | undefined;
  const early = new Promise<ImageRecord>((res) => (known = res));
  const recordOf = (img: {
    manifestDescriptor: Descriptor;
    manifest: ImageManifest;
    config: ImageConfigFile;
  }): ImageRecord => ({
    name,
    manifestDigest: img.manifestDescriptor.digest,
    manifestMediaType: img.manifestDescriptor.mediaType,
    manifest: img.manifest,
    configDigest: img.manifest.config.digest,
    config: img.config,
  });
  const { registryView } = await import('../store/index.js');
  const pulled = pullImage(ref, registryView(store), {
    ...registryOpts(opts, store, emit),
    platform,
    // Manifest and config only: the layers are recorded with this registry as their source and come in (unpacked
    // while they download) when a RUN first needs the base filesystem; a build whose steps all hit the cache, or
    // that only adds files, never downloads them.
    lazy: true,
    absent,
    onConfig: (img) => known?.(recordOf(img)),
    onProgress: (p) => {
      if (p.kind === 'blob' && (p.action === 'download' || p.action === 'done' || p.action === 'exists')) {
        emit({
          type: 'pull-progress',
          time: Date.now(),
          ref: name,
          digest: p.digest,
          current: p.action === 'download' ? p.transferred : p.size,
          total: p.size,
        });
      }
    },
  });
  const stored = pulled.then(() => undefined);
  stored.catch(() => undefined);
  // a pull that fails before its config is known fails here
  const record = await Promise.race([early, pulled.then(recordOf)]);
  return { record, stored };
}

/** Layer compression and media types of the push (`-o type=image,compression=…`), warning when BuildKit would. */
function pushOutput(layers: OutputLayers | undefined, emit: (e: BuildEvent) => void): PushOutput {
  if (!layers) return {};
  const { ociMediaTypes, warning } = mediaTypesFor(layers);
  if (warning) emit({ type: 'log', time: Date.now(), level: 'warn', message: warning });
  return { compression: layers.compression, ...(ociMediaTypes !== undefined ? { ociMediaTypes } : {}) };
}

/** Pushes the image to every tag's registry; returns, per tag, the manifest digest as pushed (layers compressed). */
export async function pushResult(
  store: Store,
  manifest: Descriptor,
  tags: string[],
  opts: BuildOptions,
  emit: (e: BuildEvent) => void,
): Promise<PushedImage[]> {
  const { pushImage } = await loadRegistryClient();
  const { registryView } = await import('../store/index.js');
  const r = await pushImage(
    registryView(store),
    manifest,
    tags.map((t) => parseReference(t)),
    {
      ...registryOpts(opts, store, emit),
      // the compression keys of the image output (-o type=image|registry,compression=…)
      output: pushOutput(
        (opts.outputs ?? []).flatMap((o) => (o.type === 'image' && o.layers ? [o.layers] : []))[0],
        emit,
      ),
      onProgress: (p) => {
        if (
          p.kind === 'blob' &&
          (p.action === 'upload' || p.action === 'done' || p.action === 'exists' || p.action === 'mount')
        ) {
          emit({
            type: 'push-progress',
            time: Date.now(),
            ref: tags.join(', '),
            digest: p.digest,
            current: p.action === 'upload' ? p.transferred : p.size,
            total: p.size,
          });
        }
      },
    },
  );
  // One line per tag, as BuildKit prints `pushing manifest for REF@sha256:…`: the digest the registry holds, which
  // differs from the local manifest's once the layers were compressed for the push.
  const pushed = tags.map((t) => ({ ref: formatReference(parseReference(t)), digest: r.digest }));
  for (const p of pushed) emit({ type: 'image-pushed', time: Date.now(), ...p });
  return pushed;
}
