// Docker's shell-word processing (BuildKit frontend/dockerfile/shell/lex.go): quote removal, escapes and
// `$VAR` / `${VAR…}` substitution, used by the builder with a stage's ARG/ENV scope. Nothing here runs a shell.
import { isDigit, isLetter, isSpace } from './text.js';
import { shellPatternToRegex, trimPrefix, trimSuffix } from './shell-pattern.js';

export class ExpandError extends Error {
  override name = 'ExpandError';
  constructor(
    readonly word: string,
    readonly reason: string,
    /**
     * `EXPANSION_TOO_LONG` for a word past MAX_EXPANDED_CHARS, `EXPANSION_TOO_DEEP` for substitutions nested past
     * MAX_NESTING; undefined for a syntax or `${VAR?}` error.
     */
    readonly code?: string,
  ) {
    super(`failed to process ${quoteWord(word)}: ${reason}`);
  }
}

/** The word as the message quotes it: a word of many kilobytes is cut, so that the error stays readable. */
function quoteWord(word: string): string {
  const max = 200;
  return word.length <= max
    ? JSON.stringify(word)
    : `${JSON.stringify(word.slice(0, max))}… (${word.length} characters)`;
}

/**
 * The deepest nesting of `${…}` substitutions (`${a:-${b:-…}}`) and quotes inside them. Each level is a recursive
 * call, and a word nested some thousands deep overflows the stack; no real Buildfile comes near this.
 */
export const MAX_NESTING = 100;

class TooDeep extends Error {
  constructor() {
    super(
      `substitutions are nested more than ${MAX_NESTING} levels deep (\${a:-\${b:-…}}), the limit: flatten the word into several ARG or ENV lines`,
    );
  }
}

/**
 * The longest expanded word, in characters. A Buildfile (or a base image's ONBUILD trigger) that doubles a variable
 * line by line (`ARG a2=${a1}${a1}`) would otherwise grow until the process dies; 40 lines make a terabyte.
 */
export const MAX_EXPANDED_CHARS = 1 << 20;

class TooLong extends Error {
  constructor() {
    super(
      `the expanded word is longer than ${MAX_EXPANDED_CHARS} characters (1 MiB), the limit: a variable that grows by doubling itself (ARG b=\${a}\${a}, ENV, \${a:-\${a}})? Shorten the values`,
    );
  }
}

/** `s` if it is within the limit, else throws: called wherever a piece of the result grows. */
function capped(s: string): string {
  if (s.length > MAX_EXPANDED_CHARS) throw new TooLong();
  return s;
}

export interface LexOptions {
  /** `\` (default) or `` ` `` (from `# escape=`). */
  escapeToken?: string;
  /** Keep quote characters in the result (quotes still group words). */
  rawQuotes?: boolean;
  /** Keep escape characters in the result. */
  rawEscapes?: boolean;
  /** Treat quotes as ordinary characters. */
  skipProcessQuotes?: boolean;
  /** Leave references to unset variables as written instead of expanding them to "". */
  skipUnsetEnv?: boolean;
}

/** Variables: a map, a record, or anything with `get` (a view over a large variable set). */
export type Env =
  ReadonlyMap<string, string> | Readonly<Record<string, string>> | { get(name: string): string | undefined };

export interface ProcessResult {
  /** The processed word (spaces between words kept). */
  word: string;
  /** The word split on unquoted whitespace after expansion. */
  words: string[];
}

const EOF = '';

class Words {
  word = '';
  words: string[] = [];
  inWord = false;
  addChar(ch: string): void {
    if (isSpace(ch)) {
      if (this.inWord && this.word.length !== 0) {
        this.words.push(this.word);
        this.word = '';
        this.inWord = false;
      }
    } else this.addRawChar(ch);
  }
  addRawChar(ch: string): void {
    this.word += ch;
    this.inWord = true;
  }
  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }
  addRawString(s: string): void {
    this.word += s;
    this.inWord = true;
  }
  getWords(): string[] {
    if (this.word.length > 0) {
      this.words.push(this.word);
      this.word = '';
      this.inWord = false;
    }
    return this.words;
  }
}

function isSpecialParam(ch: string): boolean {
  return '@*#?-$!0'.includes(ch) && ch !== '';
}

class ShellWord {
  private pos = 0;
  private depth = 0;
  private rawEscapes: boolean;
  constructor(
    private readonly chars: string[],
    private readonly lookup: (name: string) => string | undefined,
    private readonly opts: Required<LexOptions>,
  ) {
    this.rawEscapes = opts.rawEscapes;
  }

  private peek(): string {
    return this.pos < this.chars.length ? this.chars[this.pos]! : EOF;
  }
  private next(): string {
    return this.pos < this.chars.length ? this.chars[this.pos++]! : EOF;
  }

  processStopOn(stopChar: string, rawEscapes: boolean): ProcessResult {
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      return this.loop(stopChar);
    } finally {
      this.rawEscapes = saved;
    }
  }

  private loop(stopChar: string): ProcessResult {
    let result = '';
    const words = new Words();
    const quotes = !this.opts.skipProcessQuotes;
    const esc = this.opts.escapeToken;
    while (this.peek() !== EOF) {
      let ch = this.peek();
      if (stopChar !== EOF && ch === stopChar) {
        this.next();
        return { word: result, words: words.getWords() };
      }
      if (ch === '$' || (quotes && (ch === "'" || ch === '"'))) {
        const tmp =
          ch === '$' ? this.processDollar() : ch === "'" ? this.processSingleQuote() : this.processDoubleQuote();
        result = capped(result + tmp);
        if (ch === '$') words.addString(tmp);
        else words.addRawString(tmp);
        continue;
      }
      ch = this.next();
      if (ch === esc) {
        if (this.rawEscapes) {
          words.addRawChar(ch);
          result += ch;
        }
        ch = this.next();
        if (ch === EOF) break;
        words.addRawChar(ch);
      } else {
        words.addChar(ch);
      }
      result = capped(result + ch);
    }
    if (stopChar !== EOF) throw new Error(`unexpected end of statement while looking for matching ${stopChar}`);
    return { word: result, words: words.getWords() };
  }

  private processSingleQuote(): string {
    let result = '';
    let ch = this.next();
    if (this.opts.rawQuotes) result += ch;
    for (;;) {
      ch = this.next();
      if (ch === EOF) throw new Error('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") {
        if (this.opts.rawQuotes) result += ch;
        return result;
      }
      result += ch;
    }
  }

  private processDoubleQuote(): string {
    let result = '';
    const esc = this.opts.escapeToken;
    let ch = this.next();
    if (this.opts.rawQuotes) result += ch;
    for (;;) {
      const p = this.peek();
      if (p === EOF) throw new Error('unexpected end of statement while looking for matching double-quote');
      if (p === '"') {
        ch = this.next();
        if (this.opts.rawQuotes) result += ch;
        return result;
      }
      if (p === '$') {
        result = capped(result + this.processDollar());
        continue;
      }
      ch = this.next();
      if (ch === esc) {
        if (this.rawEscapes) result += ch;
        const n = this.peek();
        if (n === EOF) continue; // a trailing escape is ignored
        if (n === '"' || n === '$' || n === esc) ch = this.next();
      }
      result = capped(result + ch);
    }
  }

  private processName(): string {
    let name = '';
    while (this.peek() !== EOF) {
      const ch = this.peek();
      if (name.length === 0 && isDigit(ch)) {
        while (this.peek() !== EOF && isDigit(this.peek())) name += this.next();
        return name;
      }
      if (name.length === 0 && isSpecialParam(ch)) return this.next();
      if (!isLetter(ch) && !isDigit(ch) && ch !== '_') break;
      name += this.next();
    }
    return name;
  }

  private processDollar(): string {
    if (++this.depth > MAX_NESTING) throw new TooDeep();
    try {
      return this.processDollarAt();
    } finally {
      this.depth--;
    }
  }

  private processDollarAt(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      const value = this.lookup(name);
      if (value === undefined && this.opts.skipUnsetEnv) return '$' + name;
      return value ?? '';
    }
    this.next();
    const first = this.peek();
    if (first === EOF) throw new Error("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new Error('syntax error: bad substitution');
    const name = this.processName();
    let ch = this.next();
    let chs = ch;
    let nullIsUnset = false;
    if (ch === '}') {
      const value = this.lookup(name);
      if (value === undefined && this.opts.skipUnsetEnv) return '${' + name + '}';
      return value ?? '';
    }
    if (ch === ':') {
      nullIsUnset = true;
      ch = this.next();
      chs += ch;
    } else if (!'+-?#%/'.includes(ch) || ch === EOF) {
      throw new Error(`unsupported modifier (${chs}) in substitution`);
    }
    if (ch === '/' && !nullIsUnset) return this.processReplace(name);
    if (ch === EOF || !'+-?#%'.includes(ch)) {
      // ${VAR:x} with an unsupported x: BuildKit still reads up to the brace, then rejects the modifier.
      const word = this.readModifierWord(false);
      if (this.opts.skipUnsetEnv && this.lookup(name) === undefined) return '${' + name + chs + word + '}';
      throw new Error(`unsupported modifier (${chs}) in substitution`);
    }
    const word = this.readModifierWord(ch === '#' || ch === '%');
    const value = this.lookup(name);
    if (this.opts.skipUnsetEnv && value === undefined) return '${' + name + chs + word + '}';
    const unset = value === undefined || (nullIsUnset && value === '');
    switch (ch) {
      case '-':
        return unset ? word : value!;
      case '+':
        return unset ? '' : word;
      case '?':
        if (value === undefined) throw new Error(`${name}: ${word !== '' ? word : 'is not allowed to be unset'}`);
        if (nullIsUnset && value === '')
          throw new Error(`${name}: ${word !== '' ? word : 'is not allowed to be empty'}`);
        return value;
      default: {
        let pattern = word;
        let greedy = false;
        if (pattern.length > 0 && pattern[0] === ch) {
          greedy = true;
          pattern = pattern.slice(1);
        }
        return ch === '%' ? trimSuffix(pattern, value ?? '', greedy) : trimPrefix(pattern, value ?? '', greedy);
      }
    }
  }

  private readModifierWord(rawEscapes: boolean): string {
    try {
      return this.processStopOn('}', rawEscapes).word;
    } catch (e) {
      if (this.peek() === EOF) throw new Error("syntax error: missing '}'");
      throw e;
    }
  }

  private processReplace(name: string): string {
    const replaceAll = this.peek() === '/';
    if (replaceAll) this.next();
    let pattern: string;
    try {
      pattern = this.processStopOn('/', true).word;
    } catch (e) {
      if (this.peek() === EOF) throw new Error("syntax error: missing '/' in ${}");
      throw e;
    }
    const replacement = this.readModifierWord(true);
    const value = this.lookup(name);
    if (this.opts.skipUnsetEnv && value === undefined) return '${' + name + '/' + pattern + '/' + replacement + '}';
    const re = shellPatternToRegex(pattern, true, false, replaceAll);
    // each match may grow the value by the replacement's length: counted as it goes, not after
    let size = (value ?? '').length;
    return (value ?? '').replace(re, (m: string) => {
      size += replacement.length - m.length;
      if (size > MAX_EXPANDED_CHARS) throw new TooLong();
      return replacement;
    });
  }
}

function lookupIn(env: Env): (name: string) => string | undefined {
  if (env instanceof Map || typeof (env as { get?: unknown }).get === 'function')
    return (name) => (env as { get(n: string): string | undefined }).get(name);
  const rec = env as Readonly<Record<string, string>>;
  return (name) => (Object.prototype.hasOwnProperty.call(rec, name) ? rec[name] : undefined);
}

/** Runs BuildKit's shell-word processing with explicit options (the general form of expandWord/expandWords). */
export function processWord(word: string, env: Env, opts: LexOptions = {}): ProcessResult {
  const full: Required<LexOptions> = {
    escapeToken: opts.escapeToken ?? '\\',
    rawQuotes: opts.rawQuotes ?? false,
    rawEscapes: opts.rawEscapes ?? false,
    skipProcessQuotes: opts.skipProcessQuotes ?? false,
    skipUnsetEnv: opts.skipUnsetEnv ?? false,
  };
  const sw = new ShellWord(Array.from(word), lookupIn(env), full);
  try {
    return sw.processStopOn(EOF, full.rawEscapes);
  } catch (e) {
    const code = e instanceof TooLong ? 'EXPANSION_TOO_LONG' : e instanceof TooDeep ? 'EXPANSION_TOO_DEEP' : undefined;
    throw new ExpandError(word, e instanceof Error ? e.message : String(e), code);
  }
}

/** Expands one word: variables substituted, quotes and escapes removed (as for WORKDIR, USER, ENV values). */
export function expandWord(word: string, env: Env, opts: { escapeToken?: string } = {}): string {
  return processWord(word, env, { escapeToken: opts.escapeToken }).word;
}

/**
 * Expands then splits on unquoted whitespace (as for EXPOSE, VOLUME, COPY/ADD arguments). Given a list, each
 * word is processed on its own and the results are concatenated, as BuildKit does for an instruction's args.
 */
export function expandWords(word: string | readonly string[], env: Env, opts: { escapeToken?: string } = {}): string[] {
  if (typeof word === 'string') return processWord(word, env, { escapeToken: opts.escapeToken }).words;
  return word.flatMap((w) => processWord(w, env, { escapeToken: opts.escapeToken }).words);
}

/** Instructions whose arguments Docker runs through variable substitution (the Dockerfile reference's list). */
const EXPANDING = new Set([
  'ADD',
  'ARG',
  'COPY',
  'ENV',
  'EXPOSE',
  'FROM',
  'LABEL',
  'STOPSIGNAL',
  'USER',
  'VOLUME',
  'WORKDIR',
]);

/**
 * Whether `keyword` gets variable substitution. RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK and MAINTAINER do not
 * (the shell does it at run time); ONBUILD does not either: its trigger is expanded when it fires downstream.
 */
export function instructionExpands(keyword: string): boolean {
  return EXPANDING.has(keyword.toUpperCase());
}
