// The final image: its config (labels, history, rootfs) and manifest, written as blobs.
import type { Descriptor, Digest, ImageConfigFile, Platform } from '../oci/index.js';
import { finalConfig, makeManifest } from './image-config.js';
import type { BuildOptions } from './options.js';
import type { BuildEnv, StageState } from './steps/types.js';

export interface AssembledImage {
  config: ImageConfigFile;
  configDigest: Digest;
  manifest: Descriptor;
  layers: Descriptor[];
  platform: Platform;
}

/** Writes the final config and manifest blobs (small JSON; a no-change rebuild writes the same bytes). */
/**
 * `annotations(created)`: the manifest's annotations, given the image's creation time (none: the manifest has no
 * `annotations`, as before annotations were asked for).
 */
export async function assemble(
  env: BuildEnv,
  st: StageState,
  opts: BuildOptions,
  annotations?: (created: string) => Record<string, string>,
): Promise<AssembledImage> {
  const cfg = st.config;
  if (opts.labels && Object.keys(opts.labels).length > 0)
    cfg.config.Labels = { ...(cfg.config.Labels ?? {}), ...opts.labels };
  // BuildKit's rule: an explicit --platform labels the image with it; without one the image is what its final stage
  // is (a FROM --platform, or a base of another platform autodetected)
  const p = env.implicitPlatform ? (st.platform ?? st.plan.platform) : env.plan.targetPlatform;
  cfg.architecture = p.architecture;
  cfg.os = p.os;
  if (p.variant) cfg.variant = p.variant;
  else delete cfg.variant;
  cfg.history = st.history;
  const created = env.sourceDateEpoch !== undefined ? env.now() : st.created || cfg.created || env.now();
  const config = finalConfig(
    cfg,
    created,
    st.layers.map((l) => l.diffID),
  );
  const { MediaType } = await import('../oci/index.js');
  const { putJSON } = await import('../store/index.js');
  const configDesc = await putJSON(env.store.blobs, config, MediaType.OciConfig);
  const layers = st.layers.map((l) => l.descriptor);
  const manifest = makeManifest(configDesc, layers);
  const notes = annotations?.(created);
  if (notes && Object.keys(notes).length > 0) manifest.annotations = notes;
  const manifestDesc = await putJSON(env.store.blobs, manifest, MediaType.OciManifest);
  return {
    config,
    configDigest: configDesc.digest,
    manifest: { ...manifestDesc, mediaType: MediaType.OciManifest },
    layers,
    platform: p,
  };
}
