// The casing rules: FromAsCasing and StageNameCasing (per FROM, BuildKit's instructions/parse.go), and
// ConsistentInstructionCasing (every keyword against the file's majority, dockerfile2llb validateCommandCasing).
import { MESSAGES } from './rules.js';
import { at, writtenKeyword, type Finding, type Split } from './types.js';
import type { FromInstruction } from '../instructions/types.js';

const isLower = (s: string): boolean => s === s.toLowerCase();
const isUpper = (s: string): boolean => s === s.toUpperCase();

/**
 * The `AS` word of `FROM image AS name` as written: the word before the name, continuation escapes and comment lines
 * left out (a split, not a backtracking pattern: the text is the Buildfile's).
 */
export function writtenAs(from: FromInstruction): string | undefined {
  if (from.stageName === undefined) return undefined;
  const text = from.original
    .split('\n')
    .filter((l, i) => i === 0 || !l.trimStart().startsWith('#'))
    .map((l) => l.replace(/[\\`][ \t]*$/, ''))
    .join(' ');
  const words = text.split(/\s+/).filter((w) => w !== '');
  return words.at(-1) === from.stageName ? words.at(-2) : undefined;
}

export function fromCasing(split: Split): Finding[] {
  const out: Finding[] = [];
  for (const { from } of split.stages) {
    if (from.stageName !== undefined && !isLower(from.stageName))
      out.push({ rule: 'StageNameCasing', message: MESSAGES.StageNameCasing(from.stageName), ...at(from) });
    const kw = writtenKeyword(from);
    const as = writtenAs(from);
    // a keyword of mixed case is ConsistentInstructionCasing's business, not this rule's
    if (as === undefined || (!isLower(kw) && !isUpper(kw))) continue;
    if (isLower(kw) ? !isLower(as) : !isUpper(as))
      out.push({ rule: 'FromAsCasing', message: MESSAGES.FromAsCasing(kw, as), ...at(from) });
  }
  return out;
}

export function instructionCasing(split: Split): Finding[] {
  // the meta ARGs before the first FROM are not counted, as in BuildKit (it walks the stages)
  const all = split.stages.flatMap((s) => [s.from, ...s.instructions]);
  let lower = 0;
  let upper = 0;
  for (const ins of all) {
    const kw = writtenKeyword(ins);
    if (isLower(kw)) lower++;
    else if (isUpper(kw)) upper++;
  }
  const majorityLower = lower > upper;
  const out: Finding[] = [];
  for (const ins of all) {
    const kw = writtenKeyword(ins);
    const casing = majorityLower ? (isLower(kw) ? '' : 'lowercase') : isUpper(kw) ? '' : 'uppercase';
    if (casing)
      out.push({
        rule: 'ConsistentInstructionCasing',
        message: MESSAGES.ConsistentInstructionCasing(kw, casing),
        ...at(ins),
      });
  }
  return out;
}
