// DuplicateStageName and ReservedStageName (dockerfile2llb validateStageNames): names compare lower-cased.
import { MESSAGES } from './rules.js';
import { at, type Finding, type Split } from './types.js';

const RESERVED = new Set(['context', 'scratch']);

export function stageNames(split: Split): Finding[] {
  const out: Finding[] = [];
  const seen = new Set<string>();
  for (const { name, from } of split.stages) {
    if (name === '') continue;
    if (RESERVED.has(name))
      out.push({ rule: 'ReservedStageName', message: MESSAGES.ReservedStageName(name), ...at(from) });
    if (seen.has(name))
      out.push({ rule: 'DuplicateStageName', message: MESSAGES.DuplicateStageName(name), ...at(from) });
    seen.add(name);
  }
  return out;
}
