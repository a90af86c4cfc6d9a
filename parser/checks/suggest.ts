// BuildKit's util/suggest.Search: the closest option within an edit distance of 2, or none (and none when the
// value itself is an option). Bounded: the Buildfile is untrusted, and thousands of undeclared variables against
// thousands of ARGs would otherwise cost millions of distance computations for a hint.

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** The longest value worth suggesting for. */
const MAX_LENGTH = 256;

/** Options one run of the checks may weigh for suggestions; past it, warnings come without one. */
export class SuggestBudget {
  constructor(public left = 200_000) {}
}

export function suggest(value: string, options: Iterable<string>, budget: SuggestBudget): string | undefined {
  let match: string | undefined;
  let min = 3;
  if (value.length > MAX_LENGTH) return undefined;
  for (const opt of options) {
    if (opt === value) return undefined;
    if (budget.left-- <= 0) return undefined;
    if (Math.abs(opt.length - value.length) >= min) continue; // the distance is at least the length difference
    const d = distance(value, opt);
    if (d < min) {
      match = opt;
      min = d;
    }
  }
  return match;
}
