// BuildKit's AST dump: `(keyword ["--flag" …] "arg" …)`, arguments quoted as Go's strconv.Quote does.
import type { Instruction } from './types.js';
import { goQuote } from './quote.js';

export function dumpInstruction(i: Instruction): string {
  let s = i.keyword.toLowerCase();
  if (i.flags.length > 0) s += ` [${i.flags.map(goQuote).join(' ')}]`;
  if (i.onbuild) s += ' ' + dumpInstruction(i.onbuild);
  for (const a of i.args) s += ' ' + goQuote(a);
  return `(${s})`;
}

/** The dump of a whole file: one line per instruction, each ending with a newline. */
export function dumpInstructions(instructions: readonly Instruction[]): string {
  return instructions.map((i) => dumpInstruction(i) + '\n').join('');
}
