// The one place the builder calls the parser's shell-word expander, so every step substitutes the same way.
import { expandWord, expandWords } from '../parser/index.js';

/** Variables by name (a Map will do; a stage's are a view over its ENV and ARGs). */
export interface Vars {
  get(name: string): string | undefined;
}

/** Expands one word (`$VAR`, `${VAR:-x}`, quotes removed as Docker does for WORKDIR, USER, ENV values…). */
export function expand(word: string, vars: Vars, escapeToken: string): string {
  return expandWord(word, vars, { escapeToken });
}

/** Expands and splits on unquoted whitespace, as Docker does for COPY/ADD, EXPOSE, VOLUME arguments. */
export function expandList(words: string[], vars: Vars, escapeToken: string): string[] {
  return expandWords(words, vars, { escapeToken });
}
