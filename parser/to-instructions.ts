// CST visitors: a lexed+parsed instruction line becomes { keyword, flags, rest }, and an exec-form array becomes
// its strings. Token offsets are kept so errors can point at the flag or word they concern.
import type { CstNode, IToken } from './chevrotain.js';
import { cstParser } from './grammar.js';
import { instructionLexer, LBracket, LCurly, RBracket, RCurly, scanFlagWord } from './lexer.js';
import { trimSpace } from './text.js';

export interface LineFlag {
  /** `--name=value` with quotes and escapes processed, as BuildKit stores it. */
  text: string;
  /** Offset of the flag in the logical line. */
  offset: number;
}

export interface SplitLine {
  keyword: string;
  keywordOffset: number;
  flags: LineFlag[];
  /** The arguments after the flags, trimmed (BuildKit's `args` string). */
  rest: string;
  restOffset: number;
}

const BaseVisitor = cstParser.getBaseCstVisitorConstructorWithDefaults();

class LineVisitor extends BaseVisitor {
  constructor() {
    super();
    this.validateVisitor();
  }

  instruction(ctx: Record<string, IToken[] | undefined>): SplitLine {
    const kw = ctx.Keyword![0]!;
    const flags = (ctx.Flag ?? []).map((t) => ({ text: scanFlagWord(t.image, 0).value, offset: t.startOffset }));
    const restTok = ctx.Rest?.[0];
    let rest = '';
    let restOffset = kw.startOffset + kw.image.length;
    if (restTok) {
      const lead = restTok.image.length - restTok.image.replace(/^\s+/, '').length;
      rest = trimSpace(restTok.image);
      restOffset = restTok.startOffset + lead;
    }
    return { keyword: kw.image, keywordOffset: kw.startOffset, flags, rest, restOffset };
  }
}

const lineVisitor = new LineVisitor();

/** Splits a logical line into keyword, builder flags and argument text (BuildKit's splitCommand). */
export function splitInstructionLine(line: string): SplitLine | null {
  const lexed = instructionLexer.tokenize(line, 'head');
  if (lexed.tokens.length === 0) return null;
  cstParser.input = lexed.tokens;
  const cst = cstParser.instruction();
  if (lexed.errors.length > 0 || cstParser.errors.length > 0) {
    throw new Error(`cannot split instruction line: ${lexed.errors[0]?.message ?? cstParser.errors[0]?.message}`);
  }
  return lineVisitor.visit(cst) as SplitLine;
}

/** The outcome of reading an argument as an exec-form array. */
export type JsonArrayResult =
  | { kind: 'strings'; values: string[] }
  | { kind: 'not-strings' }
  /** Arrays or objects nested past MAX_JSON_NESTING (the recursive-descent parser would overflow the stack). */
  | { kind: 'too-deep' }
  | { kind: 'invalid' };

/** The deepest nesting of arrays and objects read in an exec-form array; an exec form needs 1. */
export const MAX_JSON_NESTING = 100;

/** The deepest `[`/`{` nesting among the tokens, counted flat (no recursion). */
function nestingDepth(tokens: readonly IToken[]): number {
  let depth = 0;
  let max = 0;
  for (const t of tokens) {
    if (t.tokenType === LBracket || t.tokenType === LCurly) max = Math.max(max, ++depth);
    else if (t.tokenType === RBracket || t.tokenType === RCurly) depth--;
  }
  return max;
}

function children(node: CstNode, name: string): CstNode[] {
  return (node.children[name] as CstNode[] | undefined) ?? [];
}
function tokens(node: CstNode, name: string): IToken[] {
  return (node.children[name] as IToken[] | undefined) ?? [];
}

/** Reads `rest` as a JSON array of strings, as BuildKit's parseJSON does (trailing text makes it invalid). */
export function readJsonArray(rest: string): JsonArrayResult {
  if (!rest.startsWith('[')) return { kind: 'invalid' };
  const lexed = instructionLexer.tokenize(rest, 'json');
  if (lexed.errors.length > 0) return { kind: 'invalid' };
  if (nestingDepth(lexed.tokens) > MAX_JSON_NESTING) return { kind: 'too-deep' };
  cstParser.input = lexed.tokens;
  const cst = cstParser.jsonArray();
  if (cstParser.errors.length > 0) return { kind: 'invalid' };
  const values: string[] = [];
  let allStrings = true;
  for (const v of children(cst, 'value')) {
    const str = tokens(v, 'JsonString')[0];
    if (str) values.push(JSON.parse(str.image) as string);
    else allStrings = false;
  }
  return allStrings ? { kind: 'strings', values } : { kind: 'not-strings' };
}
