// Parser directives (`# syntax=`, `# escape=`, `# check=`): only at the very top of the file, each at most once.
import type { Directives } from './types.js';

const DIRECTIVE = /^#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*$/;
const KNOWN = new Set(['syntax', 'escape', 'check']);

export class DirectiveState {
  readonly directives: Directives = { escape: '\\', syntax: null, check: null };
  private done = false;
  private readonly seen = new Set<string>();

  /**
   * Looks at one (left-trimmed) line while directives may still appear; the first line that is not a known
   * directive ends the directive section. Returns an error message, or null.
   */
  feed(line: string): string | null {
    if (this.done) return null;
    const m = DIRECTIVE.exec(line);
    const key = m?.[1]!.toLowerCase();
    if (!m || !key || !KNOWN.has(key)) {
      this.done = true;
      return null;
    }
    if (this.seen.has(key)) return `only one ${key} parser directive can be used`;
    this.seen.add(key);
    const value = m[2]!;
    if (key === 'escape') {
      if (value !== '`' && value !== '\\') return `invalid escape token '${value}' does not match \` or \\`;
      this.directives.escape = value;
    } else if (key === 'syntax') this.directives.syntax = value;
    else this.directives.check = value;
    return null;
  }
}
