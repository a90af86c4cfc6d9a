// BuildKit's util/suggest.Search: the closest option within an edit distance of 2, or none (and none when the
// value itself is an option).

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

export function suggest(value: string, options: Iterable<string>): string | undefined {
  let match: string | undefined;
  let min = 3;
  for (const opt of options) {
    if (opt === value) return undefined;
    const d = distance(value, opt);
    if (d < min) {
      match = opt;
      min = d;
    }
  }
  return match;
}
