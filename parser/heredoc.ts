// Heredoc markers on an instruction line (`<<EOF`, `<<-EOF`, `<<"EOF"`, `2<<EOF`), found as BuildKit finds them:
// split the line into shell words keeping quotes and escapes, then read each word that looks like a marker.
import type { Heredoc } from './types.js';
import { processWord } from './expand.js';

const MARKER = /^(\d*)<<(-?)([^<]*)$/;

export interface HeredocMarker {
  name: string;
  expand: boolean;
  chomp: boolean;
}

const NO_ENV = new Map<string, string>();

/** Reads one word as a heredoc marker, or null when it is not one (BuildKit's ParseHeredoc). */
export function parseHeredocMarker(word: string): HeredocMarker | null {
  const m = MARKER.exec(word);
  if (!m) return null;
  const chomp = m[2] === '-';
  const rest = m[3]!;
  if (rest.length === 0) return null;
  const words = processWord(rest, NO_ENV, { skipUnsetEnv: true }).words;
  if (words.length !== 1) return null;
  const raw = processWord(rest, NO_ENV, { skipUnsetEnv: true, rawQuotes: true }).words;
  if (raw.length !== 1) return null;
  const quotes = (s: string) => s.split(/['"]/).length - 1;
  // A quoted delimiter (any part of it) disables expansion of the body.
  return { name: words[0]!, expand: quotes(words[0]!) === quotes(raw[0]!), chomp };
}

/** The heredoc markers of a logical line, in order. */
export function heredocMarkers(line: string): HeredocMarker[] {
  if (!line.includes('<<')) return [];
  let words: string[];
  try {
    words = processWord(line, NO_ENV, { rawQuotes: true, rawEscapes: true, skipUnsetEnv: true }).words;
  } catch {
    return [];
  }
  const out: HeredocMarker[] = [];
  for (const w of words) {
    const h = parseHeredocMarker(w);
    if (h) out.push(h);
  }
  return out;
}

/** Builds the Heredoc a marker's body lines make (lines without their endings). */
export function makeHeredoc(marker: HeredocMarker, body: string[]): Heredoc {
  const lines = marker.chomp ? body.map((l) => l.replace(/^\t+/, '')) : body;
  return {
    name: marker.name,
    content: lines.map((l) => l + '\n').join(''),
    expand: marker.expand,
    chomp: marker.chomp,
  };
}
