// The parser's public API: Buildfile text → typed, unexpanded instructions with source positions.
export type { Directives, Heredoc, Instruction, ParseResult, SourceRange } from './types.js';
export { parseBuildfile, type ParseOptions } from './parse.js';
export { BuildfileError } from './errors.js';
export { dumpInstruction, dumpInstructions } from './dump.js';
export { expandWord, expandWords, processWord, instructionExpands, ExpandError, type Env, type LexOptions } from './expand.js';
export { allowedFlags } from './validate.js';
export { parseHeredocMarker, type HeredocMarker } from './heredoc.js';
export { clipLine, excerptLines, moreLines, windowAround, QUOTED_LINES, QUOTED_WIDTH } from './excerpt.js';
