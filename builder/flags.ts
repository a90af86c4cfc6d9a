// Values inside instruction flags. The flags themselves are read once, by the parser's typed layer
// (parser/instructions/); a step sees fields, and raises FlagError for a value it cannot use.
export { FlagError } from '../parser/index.js';

/** `--mount=type=cache,target=/x,ro` → { type: 'cache', target: '/x', ro: 'true' }. */
export function parseCsv(spec: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of spec.split(',')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    out[key] = eq < 0 ? 'true' : part.slice(eq + 1);
  }
  return out;
}
