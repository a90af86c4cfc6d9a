// The programmatic build API's inputs and outputs (what `tsbuild build` fills from its flags).
import type { BuildEventListener } from './events.js';
import type { Digest, OutputLayers, Platform } from '../oci/index.js';

/** `layers`: the output's compression keys (builder/compression.ts), when it has any. */
export type OutputSpec =
  | { type: 'image'; layers?: OutputLayers }
  | { type: 'oci'; dest: string; layers?: OutputLayers }
  | { type: 'docker'; dest: string; layers?: OutputLayers }
  | { type: 'local'; dest: string };

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
  /** Build context: a directory, or a tar stream (context `-`). */
  context: string | { tar: NodeJS.ReadableStream };
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
  /** Target platform `os/arch[/variant]` (default: the host's). */
  platform?: string;
  labels?: Record<string, string>;
  /**
   * Default network for RUN (`--network`): `default` (and when not given) is a private network namespace with
   * outbound access and no route to the host's loopback; `host` the host's network; `none` only `lo`.
   */
  network?: 'host' | 'none' | 'default';
  /** Entitlements (`--allow`): only `network.host`, which lets `RUN --network=host` use the host's network. */
  allow?: 'network.host'[];
  /** How RUN containers switch root: `chroot` (default, fastest) or `pivot` (pivot_root; see runtime/README.md). */
  isolation?: 'chroot' | 'pivot';
  secrets?: SecretSpec[];
  outputs?: OutputSpec[];
  push?: boolean;
  /** Layer compression and media types of `--push` (the keys of `--output type=image`); default gzip. */
  pushLayers?: OutputLayers;
  iidfile?: string;
  metadataFile?: string;
  /** How many stages may run at once (default 2). */
  concurrency?: number;
  /** Clamp timestamps (env SOURCE_DATE_EPOCH by default). */
  sourceDateEpoch?: number;
  registryMirrors?: string[];
  insecureRegistries?: string[];
  onEvent?: BuildEventListener;
  signal?: AbortSignal;
}

export interface BuildResult {
  /** Image ID: the config digest, as docker shows it. */
  imageId: Digest;
  manifestDigest: Digest;
  manifestSize: number;
  platform: Platform;
  tags: string[];
  /** Steps run vs taken from the cache, and containers started. */
  stats: { steps: number; cached: number; containers: number; layersWritten: number };
}
