// Where the conformance data lives and how to list it.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const conformanceRoot = resolve(repoRoot, '..', 'shared', 'conformance');

if (!existsSync(conformanceRoot)) {
  throw new Error(
    `conformance data not found at ${conformanceRoot} (it sits beside the repository, in ../shared/conformance)`,
  );
}

export function subdirs(dir: string): string[] {
  return readdirSync(dir)
    .filter((e) => statSync(join(dir, e)).isDirectory())
    .sort();
}

export function filesUnder(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) filesUnder(p, out);
    else out.push(p);
  }
  return out;
}
