// The builder's two uses of the registry client, loaded only when needed: pulling a base image that is not in
// the store, and pushing the result (`--push`).
import { join } from 'node:path';
import { formatReference, MediaType, mediaTypesFor, parseReference, type OutputLayers } from '../oci/index.js';
import type { Descriptor, ImageConfigFile, ImageManifest, Platform } from '../oci/index.js';
import type { ImageRecord, Store } from '../store/index.js';
import type { BuildEvent } from './events.js';
import type { BuildOptions, PushedImage } from './options.js';
import {
  describeRetry,
  loadRegistryClient,
  RegistryError,
  type PushOutput,
  type RegistryOptions,
} from '../registry-client/index.js';

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
): Promise<{ record: ImageRecord; stored: Promise<void>; index?: Promise<Descriptor['digest'] | undefined> }> {
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
  // the index the image was chosen from (builder/base-index.ts remembers it for the name's other platforms)
  const index = pulled.then((r) => r.index?.digest);
  index.catch(() => undefined);
  return { record, stored, index };
}

/** Layer compression and media types of the push (`-o type=image,compression=…`), warning when BuildKit would. */
/** A PUT of an index refused for its media type (distribution's MANIFEST_INVALID / UNSUPPORTED, or HTTP 415). */
function refusesOciIndex(e: unknown): boolean {
  if (!(e instanceof RegistryError) || !/PUT manifest/.test(e.message)) return false;
  if (e.status === 415) return true;
  return e.status === 400 && e.codes.some((c) => c === 'MANIFEST_INVALID' || c === 'UNSUPPORTED');
}

function pushOutput(layers: OutputLayers | undefined, emit: (e: BuildEvent) => void): PushOutput {
  if (!layers) return {};
  const { ociMediaTypes, warning } = mediaTypesFor(layers);
  if (warning) emit({ type: 'log', time: Date.now(), level: 'warn', message: warning });
  return { compression: layers.compression, ...(ociMediaTypes !== undefined ? { ociMediaTypes } : {}) };
}

/**
 * Pushes the image (or a multi-platform build's index, its manifests first) to every tag's registry; returns, per
 * tag, the manifest digest as pushed (layers compressed).
 */
export async function pushResult(
  store: Store,
  manifest: Descriptor,
  tags: string[],
  opts: BuildOptions,
  emit: (e: BuildEvent) => void,
): Promise<PushedImage[]> {
  const { pushImage } = await loadRegistryClient();
  const { registryView } = await import('../store/index.js');
  // the compression keys of the image output (-o type=image|registry,compression=…)
  const output = pushOutput(
    (opts.outputs ?? []).flatMap((o) => (o.type === 'image' && o.layers ? [o.layers] : []))[0],
    emit,
  );
  const push = (out: PushOutput): ReturnType<typeof pushImage> =>
    pushImage(
      registryView(store),
      manifest,
      tags.map((t) => parseReference(t)),
      {
        ...registryOpts(opts, store, emit),
        output: out,
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
  let r: Awaited<ReturnType<typeof pushImage>>;
  try {
    r = await push(output);
  } catch (e) {
    // A registry that takes only Docker's media types refuses an OCI index: unless OCI types were asked for
    // (oci-mediatypes=), the index goes again as a Docker manifest list (its manifests converted too), said so.
    if (manifest.mediaType !== MediaType.OciIndex || output.ociMediaTypes !== undefined || !refusesOciIndex(e)) throw e;
    emit({
      type: 'log',
      time: Date.now(),
      level: 'warn',
      message: `the registry refused the OCI image index (${(e as Error).message}); pushing it as a Docker manifest list`,
    });
    r = await push({ ...output, ociMediaTypes: false });
  }
  // One line per tag, as BuildKit prints `pushing manifest for REF@sha256:…`: the digest the registry holds, which
  // differs from the local manifest's once the layers were compressed for the push.
  const pushed = tags.map((t) => ({ ref: formatReference(parseReference(t)), digest: r.digest }));
  for (const p of pushed) emit({ type: 'image-pushed', time: Date.now(), ...p });
  return pushed;
}

/**
 * `--attest …,referrers=true`: the attestations also as OCI referrers of the image, in every pushed repository
 * (through the registry's referrers API, or the `sha256-…` tag schema where it has none).
 */
export async function pushReferrersFor(
  store: Store,
  referrers: Descriptor[],
  subject: Descriptor,
  tags: string[],
  opts: BuildOptions,
  emit: (e: BuildEvent) => void,
): Promise<void> {
  const { pushReferrers } = await loadRegistryClient();
  const { registryView } = await import('../store/index.js');
  const seen = new Set<string>();
  for (const t of tags) {
    const ref = parseReference(t);
    const repo = `${ref.registry}/${ref.repository}`;
    if (seen.has(repo)) continue;
    seen.add(repo);
    const how = await pushReferrers(registryView(store), referrers, subject, ref, registryOpts(opts, store, emit));
    emit({
      type: 'log',
      time: Date.now(),
      level: 'info',
      message: `attestations pushed as referrers of ${subject.digest} to ${repo} (${how === 'api' ? 'referrers API' : 'referrers tag schema'})`,
    });
  }
}
