// Shell wildcard patterns for ${VAR#pat}, ${VAR%pat} and ${VAR/pat/repl} (BuildKit's lex.go rules: `*`, `?`,
// `\` escapes, no bracket expressions).

/** A shell wildcard pattern (`*`, `?`, `\` escapes; no brackets) as a regular expression. */
export function shellPatternToRegex(pattern: string, greedy: boolean, anchored: boolean, global = false): RegExp {
  const chars = Array.from(pattern);
  let out = anchored ? '^' : '';
  for (let i = 0; i < chars.length; i++) {
    const tok = chars[i]!;
    if (tok === '*') out += greedy ? '[^]*' : '[^]*?';
    else if (tok === '?') out += '[^]';
    else if (tok === '\\') {
      const n = chars[i + 1];
      if (n === '}' || n === '/') continue;
      if (n !== '*' && n !== '?' && n !== '\\')
        throw new Error(`invalid pattern (${pattern}) in substitution: invalid escape '\\${n ?? ''}'`);
      out += '\\' + n;
      i++;
    } else out += tok.replace(/[[\]{}.+()|^$]/g, '\\$&');
  }
  return new RegExp(out, global ? 'gu' : 'u');
}

export function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const m = shellPatternToRegex(pattern, greedy, true).exec(value);
  return m ? value.slice(m[0].length) : value;
}

function reversePattern(pattern: string): string {
  const chars = Array.from(pattern);
  const out: string[] = new Array(chars.length);
  const last = chars.length - 1;
  for (let i = 0; i <= last;) {
    const tok = chars[i]!;
    const o = last - i;
    if (tok === '\\' && i !== last) {
      out[o - 1] = tok;
      out[o] = chars[i + 1]!;
      i += 2;
    } else {
      out[o] = tok;
      i++;
    }
  }
  return out.join('');
}

function reverse(s: string): string {
  return Array.from(s).reverse().join('');
}

export function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  return reverse(trimPrefix(reversePattern(pattern), reverse(value), greedy));
}
