// tsbuild's programmatic API: `import { build } from 'tsbuild-oci'`.
export { build, BuildError, PlanError, ContextError, isNotCached, NotCachedError } from './builder/index.js';
export type {
  BuildOptions,
  BuildResult,
  OutputSpec,
  SecretSpec,
  BuildEvent,
  BuildEventListener,
  StepRef,
} from './builder/index.js';
