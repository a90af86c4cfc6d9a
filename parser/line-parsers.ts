// Per-instruction argument splitting, exactly as BuildKit's parser dispatch table does it (line_parsers.go):
// the parser never expands or unquotes; it only decides where the arguments start and end.
import { MAX_JSON_NESTING, readJsonArray } from './to-instructions.js';
import { GO_WHITESPACE, isSpace } from './text.js';

export interface ParsedArgs {
  args: string[];
  json: boolean;
}

/** A parse-level error in the arguments; `word` (when given) is located in the line for the caret. */
export class ArgsError extends Error {
  constructor(
    message: string,
    readonly word?: string,
  ) {
    super(message);
  }
}

const NOT_STRINGS = 'when using JSON array syntax, arrays must be comprised of strings only';

/** Words separated by whitespace, quotes and escapes kept as written (BuildKit's parseWords). */
export function parseWords(rest: string, escapeToken: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote = '';
  let blankOK = false;
  const chars = Array.from(rest);
  for (let i = 0; i < chars.length; i++) {
    let ch = chars[i]!;
    if (!inWord) {
      if (isSpace(ch)) continue;
      inWord = true;
    }
    if (quote === '') {
      if (isSpace(ch)) {
        if (blankOK || word.length > 0) words.push(word);
        word = '';
        blankOK = false;
        inWord = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
      } else if (ch === escapeToken) {
        if (i + 1 === chars.length) continue; // an escape token at the end is dropped
        word += ch;
        ch = chars[++i]!;
      }
      word += ch;
    } else {
      if (ch === quote) quote = '';
      else if (ch === escapeToken && quote !== "'") {
        if (i + 1 === chars.length) {
          quote = '';
          continue;
        }
        word += ch;
        ch = chars[++i]!;
      }
      word += ch;
    }
  }
  if (inWord && (blankOK || word.length > 0)) words.push(word);
  return words;
}

function whitespaceDelimited(rest: string): string[] {
  return rest === '' ? [] : rest.split(GO_WHITESPACE);
}

function maybeJson(rest: string, toList: boolean): ParsedArgs {
  if (rest === '' && !toList) return { args: [], json: false };
  const j = readJsonArray(rest);
  if (j.kind === 'strings') return { args: j.values, json: true };
  if (j.kind === 'not-strings') throw new ArgsError(NOT_STRINGS);
  if (j.kind === 'too-deep')
    throw new ArgsError(`the JSON array is nested more than ${MAX_JSON_NESTING} levels deep; ${NOT_STRINGS}`);
  return { args: toList ? whitespaceDelimited(rest) : [rest], json: false };
}

/** ENV and LABEL: `name value` (legacy) or `name=value ...`, as triples name, value, separator. */
function nameVal(rest: string, keyword: string, escapeToken: string): string[] {
  const words = parseWords(rest, escapeToken);
  if (words.length === 0) return [];
  if (!words[0]!.includes('=')) {
    const m = GO_WHITESPACE.exec(rest);
    if (!m) throw new ArgsError(`${keyword} must have two arguments`);
    return [rest.slice(0, m.index), rest.slice(m.index + m[0].length), ''];
  }
  const out: string[] = [];
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq < 0)
      throw new ArgsError(`Syntax error - can't find = in ${JSON.stringify(w)}. Must be of the form: name=value`, w);
    out.push(w.slice(0, eq), w.slice(eq + 1), '=');
  }
  return out;
}

/** HEALTHCHECK: the type word, then the command in shell or exec form. */
function healthConfig(rest: string): ParsedArgs {
  let sep = 0;
  while (sep < rest.length && !isSpace(rest[sep]!)) sep++;
  if (sep === 0) return { args: [], json: false };
  let next = sep;
  while (next < rest.length && isSpace(rest[next]!)) next++;
  const cmd = maybeJson(rest.slice(next), false);
  return { args: [rest.slice(0, sep), ...cmd.args], json: cmd.json };
}

/** Keywords BuildKit knows (ONBUILD is handled by the caller: it wraps another instruction). */
export const KEYWORDS = new Set([
  'ADD',
  'ARG',
  'CMD',
  'COPY',
  'ENTRYPOINT',
  'ENV',
  'EXPOSE',
  'FROM',
  'HEALTHCHECK',
  'LABEL',
  'MAINTAINER',
  'ONBUILD',
  'RUN',
  'SHELL',
  'STOPSIGNAL',
  'USER',
  'VOLUME',
  'WORKDIR',
]);

/** Splits the argument text of `keyword` (upper case, not ONBUILD) the way BuildKit's dispatch table does. */
export function parseArgs(keyword: string, rest: string, escapeToken: string): ParsedArgs {
  switch (keyword) {
    case 'ADD':
    case 'COPY':
    case 'VOLUME':
      return maybeJson(rest, true);
    case 'CMD':
    case 'ENTRYPOINT':
    case 'RUN':
    case 'SHELL':
      return maybeJson(rest, false);
    case 'ARG':
      return { args: parseWords(rest, escapeToken), json: false };
    case 'ENV':
    case 'LABEL':
      return { args: nameVal(rest, keyword, escapeToken), json: false };
    case 'EXPOSE':
    case 'FROM':
      return { args: whitespaceDelimited(rest), json: false };
    case 'HEALTHCHECK':
      return healthConfig(rest);
    case 'MAINTAINER':
    case 'STOPSIGNAL':
    case 'USER':
    case 'WORKDIR':
      return { args: rest === '' ? [] : [rest], json: false };
    default:
      throw new Error(`parseArgs: unexpected keyword ${keyword}`);
  }
}
