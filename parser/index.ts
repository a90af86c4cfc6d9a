// The parser's public API: Buildfile text → typed, unexpanded instructions with source positions. The grammar
// (chevrotain) loads on first use through `loadParser()`: a no-op rebuild reads its parse from a cache and
// needs only the light parts here (expansion, excerpts).
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
export { allowedFlags } from './validate.js';
export { parseHeredocMarker, type HeredocMarker } from './heredoc.js';
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
