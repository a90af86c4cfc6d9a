// The programmatic build API's inputs and outputs (what `tsbuild build` fills from its flags).
import type { BuildEventListener } from './events.js';
import type { AttestRequest } from './attest-spec.js';
import type { Descriptor, Digest, OutputLayers, Platform } from '../oci/index.js';

/**
 * Where the result goes besides the store (`--output`; builder/output-spec.ts parses the CLI's text). `names` add to
 * `tags`; `dest: '-'` is stdout.
 */
export type OutputSpec =
  /**
   * `type=image` (`type=registry` is `push: true`): tagged in the store under `names` and `tags`; pushed if `push`.
   * `layers`: the compression keys (oci/output-layers.ts), which apply to the push.
   */
  | { type: 'image'; names?: string[]; push?: boolean; layers?: OutputLayers }
  /** An OCI layout or docker-archive tar naming the image `names` (default: `tags`), layers as `layers` asks. */
  | { type: 'oci'; dest: string; names?: string[]; layers?: OutputLayers }
  | { type: 'docker'; dest: string; names?: string[]; layers?: OutputLayers }
  /** The final stage's filesystem: a directory, or a tar of it. */
  | { type: 'local'; dest: string }
  | { type: 'tar'; dest: string };

export interface SecretSpec {
  id: string;
  /** File to read the secret from (`src=`), or */
  src?: string;
  /** environment variable to read it from (`env=`). */
  env?: string;
}

export interface BuildOptions {
  /** Store root directory. */
  root: string;
  /**
   * Build context: a directory, a Git URL (`URL#ref:subdir`, builder/sources/git.ts), an `http(s)://` URL of a tar
   * (plain, gzip, bzip2, xz or zstd) or of a Buildfile alone, or a tar stream (context `-`, compressed or not).
   */
  context: string | { tar: NodeJS.ReadableStream };
  /** Cap on an HTTP(S) context's download, in bytes as sent (default 2 GiB: builder/remote-context.ts). */
  remoteContextMaxBytes?: number;
  /** Path of the Buildfile (default CONTEXT/Buildfile, then CONTEXT/Dockerfile), or its text. */
  file?: string;
  /** Buildfile text given directly (`-f -`); `file` is then only its display name. */
  fileText?: string;
  tags?: string[];
  /** `--build-arg`: undefined value = declared without value (taken from the environment by the CLI). */
  buildArgs?: Record<string, string>;
  target?: string;
  noCache?: boolean;
  noCacheFilter?: string[];
  /** `--cache-from` specs (`type=registry,ref=…`, `type=local,src=…`), in priority order (builder/remote-cache/). */
  cacheFrom?: string[];
  /** `--cache-to` specs (`type=registry,ref=…[,mode=max]`, `type=local,dest=…`, `type=inline`). */
  cacheTo?: string[];
  /** Always pull base images even when present in the store. */
  pull?: boolean;
  /**
   * Target platform `os/arch[/variant]` (default: the host's), or a comma-separated list of them: one image per
   * platform under one OCI image index.
   */
  platform?: string;
  labels?: Record<string, string>;
  /**
   * Default network for RUN (`--network`): `default` (and when not given) is a private network namespace with
   * outbound access and no route to the host's loopback; `host` the host's network; `none` only `lo`.
   */
  network?: 'host' | 'none' | 'default';
  /** Entitlements (`--allow`): only `network.host`, which lets `RUN --network=host` use the host's network. */
  allow?: 'network.host'[];
  /**
   * How RUN containers switch root: `chroot` (default, fastest) or `pivot` (pivot_root; see runtime/README.md).
   * `none` (only with `snapshots: 'copy'`, where the process cannot chroot): no root switch, so RUN steps fail at once
   * naming what is missing, and builds without RUN work (runtime/README.md, "Copy snapshots").
   */
  isolation?: 'chroot' | 'pivot' | 'none';
  /** RUN shares this process's /proc (no process sandbox): where /proc is masked (runtime/mode.ts decides). */
  procShared?: boolean;
  /**
   * How a step's filesystem is made: `overlay` (default: overlayfs over the unpacked layers) or `copy` (plain
   * directory snapshots, for environments that cannot mount; issue 16).
   */
  snapshots?: 'overlay' | 'copy';
  secrets?: SecretSpec[];
  /** `--build-context NAME=VALUE` (builder/named-contexts.ts parseBuildContext). */
  buildContexts?: import('./named-contexts.js').NamedContextSpec[];
  /** `--ssh`: agents (or key files) for RUN --mount=type=ssh, by id (builder/ssh.ts). */
  ssh?: import('./ssh.js').SshSpec[];
  outputs?: OutputSpec[];
  push?: boolean;
  iidfile?: string;
  metadataFile?: string;
  /** How many stages may run at once (default 2; a multi-platform build: the number of cores, at least 2). */
  concurrency?: number;
  /**
   * Clamp timestamps to this time (seconds). When not given: the `SOURCE_DATE_EPOCH` build arg, as BuildKit reads
   * it, else the `SOURCE_DATE_EPOCH` environment variable (buildx's way of passing it).
   */
  sourceDateEpoch?: number;
  registryMirrors?: string[];
  insecureRegistries?: string[];
  /**
   * Attestations (`--sbom`, `--provenance`, `--attest`): off unless asked. When asked, the result is an image index
   * of the image and its attestation manifest (builder/attest.ts), tagged and pushed in the image's place.
   */
  attest?: AttestRequest;
  /**
   * `--annotation [manifest:|index:|manifest-descriptor:][\[os/arch\]]KEY=VALUE` (builder/annotations.ts). Given
   * (or with attestations), the OCI standard annotations tsbuild knows are added to the manifest too.
   */
  annotations?: string[];
  /** The version the SBOM and provenance name as their creator (the CLI's; default `dev`). */
  toolVersion?: string;
  /**
   * Build only as far as the cache carries it: at the first step that would run, or layer that would be unpacked or
   * read, throw a NotCachedError instead (`isNotCached`). A build that ends is the one a plain build gives when every
   * step is a hit. The CLI's rootless mode tries this outside the user namespace first, so a no-op rebuild does not
   * pay for entering it.
   */
  onlyIfCached?: boolean;
  onEvent?: BuildEventListener;
  signal?: AbortSignal;
}

/** `--push`: one per tag, the manifest digest the registry stored under it. */
export interface PushedImage {
  /** The tag as pushed (normalized: `docker.io/library/app:1`). */
  ref: string;
  digest: Digest;
}

export interface BuildResult {
  /** Image ID: the config digest, as docker shows it. */
  imageId: Digest;
  manifestDigest: Digest;
  manifestSize: number;
  platform: Platform;
  /**
   * A multi-platform build (`--platform p1,p2,…`): the index that names the result (`imageId` and
   * `manifestDigest` are its digest) and each platform's image in the order of --platform. With attestations: the
   * image index (image + attestation manifest) the tags and the push name.
   */
  index?: Descriptor;
  platforms?: { platform: Platform; imageId: Digest; manifest: Descriptor }[];
  tags: string[];
  /** With --push: the pushed manifest digest per tag (the local `manifestDigest` differs once layers are gzipped). */
  pushed?: PushedImage[];
  /** Steps run vs taken from the cache, and containers started. */
  stats: { steps: number; cached: number; containers: number; layersWritten: number };
}
