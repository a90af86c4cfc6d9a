// The builder's public API.
export { build } from './build.js';
export type { AssembledImage } from './build.js';
export type { BuildOptions, BuildResult, OutputSpec, SecretSpec } from './options.js';
export type { BuildEvent, BuildEventListener, StepRef } from './events.js';
export { BuildError, PlanError } from './errors.js';
export { ContextError } from './context.js';
