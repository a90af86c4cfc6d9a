// The parser's public API: Buildfile text → unexpanded instruction nodes with source positions (the dump's and
// `parse --json`'s shape), and each node as a typed instruction (instructions/: what the builder reads). The grammar
// (chevrotain) loads on first use through `loadParser()`: a no-op rebuild reads its parse from a cache and needs
// only the light parts here (typing, expansion, excerpts).
export type { Directives, Heredoc, Instruction, ParseResult, SourceRange } from './types.js';
export type { ParseOptions } from './parse.js';
export { BuildfileError } from './errors.js';
export {
  expandWord,
  expandWords,
  processWord,
  instructionExpands,
  ExpandError,
  type Env,
  type LexOptions,
} from './expand.js';
export { FlagError, FLAGS, parseFlags, type FlagSpec, type ParsedFlags } from './instructions/flags.js';
export { toTypedInstruction } from './instructions/parse.js';
export type * from './instructions/types.js';
export { parseHeredocMarker, type HeredocMarker } from './heredoc.js';
export {
  runChecks,
  formatShort,
  parseCheckOptions,
  emptyCheckConfig,
  CheckOptionError,
  RULES,
  type CheckConfig,
  type CheckWarning,
  type RuleName,
} from './checks/index.js';
export { clipLine, excerptLines, moreLines, windowAround, QUOTED_LINES, QUOTED_WIDTH } from './excerpt.js';

/** parseBuildfile and the BuildKit-style dump, with the grammar they need. */
export const loadParser = async (): Promise<{
  parseBuildfile: typeof import('./parse.js').parseBuildfile;
  dumpInstruction: typeof import('./dump.js').dumpInstruction;
  dumpInstructions: typeof import('./dump.js').dumpInstructions;
}> => {
  const [{ parseBuildfile }, { dumpInstruction, dumpInstructions }] = await Promise.all([
    import('./parse.js'),
    import('./dump.js'),
  ]);
  return { parseBuildfile, dumpInstruction, dumpInstructions };
};
