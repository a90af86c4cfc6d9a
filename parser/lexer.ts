// Tokens of one logical instruction line, declared once, with lexer modes for the parts where the language
// changes: the keyword, then builder flags (`--name=value`, quotes removed as BuildKit does), then the
// arguments, which are either free text or, for instructions with an exec form, a JSON array.
import { createToken, Lexer, type TokenType } from './chevrotain.js';
import { isSpace } from './text.js';

/** One scanned flag word: where it ends and its value with quotes and backslash escapes processed. */
interface FlagWord {
  end: number;
  value: string;
}

/** Scans one flag word from `offset` as BuildKit's extractBuilderFlags does (quotes, `\` escapes). */
export function scanFlagWord(text: string, offset: number): FlagWord {
  let value = '';
  let quote = '';
  let pos = offset;
  for (; pos < text.length; pos++) {
    let ch = text[pos]!;
    if (quote === '') {
      if (isSpace(ch)) break;
      if (ch === "'" || ch === '"') {
        quote = ch;
        continue;
      }
      if (ch === '\\') {
        if (pos + 1 === text.length) continue;
        ch = text[++pos]!;
      }
      value += ch;
    } else {
      if (ch === quote) {
        quote = '';
        continue;
      }
      if (ch === '\\') {
        if (pos + 1 === text.length) {
          quote = '';
          continue;
        }
        ch = text[++pos]!;
      }
      value += ch;
    }
  }
  return { end: pos, value };
}

function startsFlag(text: string, offset: number): boolean {
  return text.charCodeAt(offset) === 45 /* - */ && text.charCodeAt(offset + 1) === 45;
}

function flagPattern(wantEnd: boolean) {
  return {
    exec(text: string, offset: number): RegExpExecArray | null {
      if (!startsFlag(text, offset)) return null;
      const w = scanFlagWord(text, offset);
      if ((w.value === '--') !== wantEnd) return null;
      return [text.slice(offset, w.end)] as unknown as RegExpExecArray;
    },
  };
}

// --- head mode: optional leading blanks, the keyword
export const Blank = createToken({
  name: 'Blank',
  pattern: /[\t\v\f\r \u0085\u00a0]+/,
  group: Lexer.SKIPPED,
  line_breaks: false,
});
export const Keyword = createToken({
  name: 'Keyword',
  pattern: /[^\t\v\f\r ]+/,
  push_mode: 'flags',
  line_breaks: false,
});

// --- flags mode: `--flag[=value]` words, `--` ending them, then the rest of the line
export const Flag = createToken({
  name: 'Flag',
  pattern: flagPattern(false),
  line_breaks: false,
  start_chars_hint: ['-'],
});
export const FlagsEnd = createToken({
  name: 'FlagsEnd',
  pattern: flagPattern(true),
  push_mode: 'rest',
  line_breaks: false,
  start_chars_hint: ['-'],
});
export const Rest = createToken({ name: 'Rest', pattern: /[^]+/, line_breaks: true });

// --- json mode: an exec-form array (any JSON value inside, so that non-strings can be reported)
export const LBracket = createToken({ name: 'LBracket', pattern: /\[/ });
export const RBracket = createToken({ name: 'RBracket', pattern: /]/ });
export const LCurly = createToken({ name: 'LCurly', pattern: /{/ });
export const RCurly = createToken({ name: 'RCurly', pattern: /}/ });
export const Comma = createToken({ name: 'Comma', pattern: /,/ });
export const Colon = createToken({ name: 'Colon', pattern: /:/ });
export const JsonString = createToken({
  name: 'JsonString',
  pattern: /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/,
  line_breaks: false,
});
export const JsonNumber = createToken({ name: 'JsonNumber', pattern: /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/ });
export const JsonLiteral = createToken({ name: 'JsonLiteral', pattern: /true|false|null/ });
export const JsonSpace = createToken({
  name: 'JsonSpace',
  pattern: /[ \t\n\r]+/,
  group: Lexer.SKIPPED,
  line_breaks: true,
});

export const jsonTokens: TokenType[] = [
  JsonSpace,
  LBracket,
  RBracket,
  LCurly,
  RCurly,
  Comma,
  Colon,
  JsonString,
  JsonNumber,
  JsonLiteral,
];
export const lineTokens: TokenType[] = [Blank, Keyword, Flag, FlagsEnd, Rest];

export const instructionLexer = new Lexer(
  {
    modes: {
      head: [Blank, Keyword],
      flags: [Blank, FlagsEnd, Flag, Rest],
      rest: [Blank, Rest],
      json: jsonTokens,
    },
    defaultMode: 'head',
  },
  { positionTracking: 'onlyOffset', ensureOptimizations: false },
);
