// Chevrotain, loaded from its single-file bundle. The package entry (lib/src/api.js) pulls in about a hundred
// modules and is slow to import; the bundle the package ships beside it (lib/chevrotain.min.mjs, same API) is a
// fraction of that, which every `tsbuild build` and `tsbuild parse` would otherwise pay (docs/performance.md). If
// the bundle is not where it should be, the package entry is used.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

type Chevrotain = typeof import('chevrotain');

async function load(): Promise<Chevrotain> {
  try {
    const bundle = new URL('../chevrotain.min.mjs', import.meta.resolve('chevrotain'));
    if (existsSync(fileURLToPath(bundle))) return (await import(bundle.href)) as Chevrotain;
  } catch {
    // fall through to the package entry
  }
  return import('chevrotain');
}

const chevrotain = await load();

export const { createToken, Lexer, CstParser } = chevrotain;
export type { CstNode, IToken, TokenType } from 'chevrotain';
