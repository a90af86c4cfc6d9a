// The grammar of one logical instruction line and of an exec-form JSON array, as a Chevrotain CstParser.
//   instruction := Keyword Flag* FlagsEnd? Rest?
//   jsonArray   := "[" (value ("," value)*)? "]"
//   value       := JsonString | JsonNumber | JsonLiteral | jsonArray | jsonObject
//   jsonObject  := "{" (JsonString ":" value ("," JsonString ":" value)*)? "}"
import { CstParser, type CstNode } from './chevrotain.js';
import {
  Colon,
  Comma,
  Flag,
  FlagsEnd,
  JsonLiteral,
  JsonNumber,
  JsonString,
  Keyword,
  LBracket,
  LCurly,
  RBracket,
  RCurly,
  Rest,
  jsonTokens,
  lineTokens,
} from './lexer.js';

export class BuildfileCstParser extends CstParser {
  constructor() {
    super([...lineTokens, ...jsonTokens], { recoveryEnabled: false, maxLookahead: 2 });
    this.performSelfAnalysis();
  }

  public instruction = this.RULE('instruction', () => {
    this.CONSUME(Keyword);
    this.MANY(() => this.CONSUME(Flag));
    this.OPTION(() => this.CONSUME(FlagsEnd));
    this.OPTION2(() => this.CONSUME(Rest));
  });

  public jsonArray = this.RULE('jsonArray', () => {
    this.CONSUME(LBracket);
    this.MANY_SEP({ SEP: Comma, DEF: () => this.SUBRULE(this.value) });
    this.CONSUME(RBracket);
  });

  private jsonObject = this.RULE('jsonObject', () => {
    this.CONSUME(LCurly);
    this.MANY_SEP({
      SEP: Comma,
      DEF: () => {
        this.CONSUME(JsonString);
        this.CONSUME(Colon);
        this.SUBRULE(this.value);
      },
    });
    this.CONSUME(RCurly);
  });

  private value = this.RULE('value', () => {
    this.OR([
      { ALT: () => this.CONSUME2(JsonString) },
      { ALT: () => this.CONSUME(JsonNumber) },
      { ALT: () => this.CONSUME(JsonLiteral) },
      { ALT: () => this.SUBRULE(this.jsonArray) },
      { ALT: () => this.SUBRULE(this.jsonObject) },
    ]);
  });
}

/** One parser instance is reused (Chevrotain parsers are stateless between `input` assignments). */
export const cstParser = new BuildfileCstParser();

export type { CstNode };
