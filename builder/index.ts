// The builder's public API.
export { build } from './build.js';
export type { AssembledImage } from './assemble.js';
export type { BuildOptions, BuildResult, OutputSpec, PushedImage, SecretSpec } from './options.js';
export type { BuildEvent, BuildEventListener, StepRef } from './events.js';
export { BuildError, isNotCached, NotCachedError, PlanError } from './errors.js';
export {
  parseOutputSpec,
  splitCsv,
  OutputSpecError,
  OUTPUT_KEYS,
  OUTPUT_TYPES,
  type OutputType,
} from './output-spec.js';
export { planOutputs, type OutputPlan } from './output-plan.js';
export { ContextError } from './context.js';
export { parseAttestFlags, AttestSpecError, type AttestRequest } from './attest-spec.js';
export { parseSshSpec, type SshSpec } from './ssh.js';
export { parseBuildContext, type NamedContextSpec, type ContextFetchers } from './named-contexts.js';
/** `--cache-from`/`--cache-to` parsing, loaded only when they are given (the remote cache is a build's rare path). */
export const loadCacheOptions = async (): Promise<typeof import('./remote-cache/hooks.js').cacheOptions> =>
  (await import('./remote-cache/hooks.js')).cacheOptions;
/** `build --check`: the build checks alone, nothing built. */
export const loadCheckOnly = async (): Promise<typeof import('./check-only.js').checkOnly> =>
  (await import('./check-only.js')).checkOnly;
export type { CheckReport } from './check-only.js';
/** `tsbuild push` of an attested index a build only stored: the form that names the pushed image manifests. */
export const loadPushForm = async (): Promise<typeof import('./attest-push.js').pushFormOf> =>
  (await import('./attest-push.js')).pushFormOf;
/** Context `-` and URL contexts: a tar (compressed or not) or a Buildfile, told apart by content. */
export const loadContextSniffer = async (): Promise<typeof import('./context-tar.js').sniffStream> =>
  (await import('./context-tar.js')).sniffStream;
