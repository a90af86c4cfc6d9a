// Character classes as Go's unicode package defines them, so splitting matches BuildKit exactly.

const SPACE_CHARS = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const LEADING = new RegExp(`^[${SPACE_CHARS}]+`);
const TRAILING = new RegExp(`[${SPACE_CHARS}]+$`);
const ONE = new RegExp(`^[${SPACE_CHARS}]$`);

/** unicode.IsSpace */
export function isSpace(ch: string): boolean {
  return ONE.test(ch);
}

/** bytes.TrimLeftFunc(s, unicode.IsSpace) */
export function trimLeft(s: string): string {
  return s.replace(LEADING, '');
}

/** strings.TrimSpace */
export function trimSpace(s: string): string {
  return s.replace(LEADING, '').replace(TRAILING, '');
}

/** Go's reWhitespace: the separator BuildKit splits whitespace-delimited arguments on. */
export const GO_WHITESPACE = /[\t\v\f\r ]+/;

/** unicode.IsLetter / unicode.IsDigit */
export function isLetter(ch: string): boolean {
  return /^\p{L}$/u.test(ch);
}
export function isDigit(ch: string): boolean {
  return /^\p{Nd}$/u.test(ch);
}
