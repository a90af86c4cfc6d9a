// What the checks read and what they report.
import type { FromInstruction, TypedInstruction } from '../instructions/types.js';
import type { RuleName } from './rules.js';

/** One rule that fired, at an instruction's lines (BuildKit reports the instruction's whole range). */
export interface Finding {
  rule: RuleName;
  message: string;
  line: number;
  endLine: number;
}

export interface Stage {
  index: number;
  from: FromInstruction;
  /** Lower-cased `AS name` (BuildKit's Stage.Name), '' when unnamed. */
  name: string;
  instructions: TypedInstruction[];
}

/** The Buildfile split as BuildKit's instructions.Parse splits it: the meta ARGs, then the stages. */
export interface Split {
  meta: TypedInstruction[];
  stages: Stage[];
  escapeToken: string;
}

export function at(ins: TypedInstruction): { line: number; endLine: number } {
  return { line: ins.range.line, endLine: ins.range.endLine };
}

/**
 * The keyword as written (`from`, `From`): the first word of the source text. The typed instruction keeps it upper
 * case; the casing rules need the spelling.
 */
export function writtenKeyword(ins: TypedInstruction): string {
  return /[A-Za-z]+/.exec(ins.original)?.[0] ?? ins.keyword;
}

/** The earlier stage this one is built FROM (by name, as BuildKit matches the base name), if any. */
export function baseStage(split: Split, stage: Stage): number | undefined {
  const word = stage.from.image.toLowerCase();
  for (const s of split.stages) {
    if (s.index >= stage.index) break;
    if (s.name !== '' && s.name === word) return s.index;
  }
  return undefined;
}
