// The plain line-based reference split of real-world/README.md: what keywords a Dockerfile has, found without
// any real parsing, to check the parser against.

const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
const HEREDOC = /<<(-?)(["']?)([A-Za-z0-9_.-]+)\2/g;
const HEREDOC_KEYWORDS = new Set(['RUN', 'COPY', 'ADD']);

const isSkipped = (line: string) => line.trim() === '' || line.trim().startsWith('#');

export function referenceKeywords(text: string): string[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let escape = '\\';
  let i = 0;
  for (; i < lines.length; i++) {
    const m = DIRECTIVE.exec(lines[i]!);
    if (!m) break;
    if (m[1]!.toLowerCase() === 'escape') escape = m[2]!;
  }
  const keywords: string[] = [];
  while (i < lines.length) {
    const first = lines[i++]!;
    if (isSkipped(first)) continue;
    let logical = first;
    while (logical.trimEnd().endsWith(escape) && i < lines.length) {
      const next = lines[i++]!;
      if (isSkipped(next)) continue;
      logical = logical.trimEnd().slice(0, -1) + next;
    }
    const words = logical.trim().split(/\s+/);
    const keyword = words[0]!.toUpperCase();
    keywords.push(keyword);
    const effective = keyword === 'ONBUILD' ? (words[1] ?? '').toUpperCase() : keyword;
    if (!HEREDOC_KEYWORDS.has(effective)) continue;
    for (const m of logical.matchAll(HEREDOC)) {
      const chomp = m[1] === '-';
      const word = m[3]!;
      while (i < lines.length) {
        const body = chomp ? lines[i++]!.replace(/^\t+/, '') : lines[i++]!;
        if (body === word) break;
      }
    }
  }
  return keywords;
}
