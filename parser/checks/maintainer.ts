// MaintainerDeprecated: every MAINTAINER, reachable or not (BuildKit reports it while parsing).
import { MESSAGES } from './rules.js';
import { at, type Finding, type Split } from './types.js';

export function maintainer(split: Split): Finding[] {
  return split.stages
    .flatMap((s) => s.instructions)
    .filter((ins) => ins.kind === 'maintainer')
    .map((ins) => ({ rule: 'MaintainerDeprecated' as const, message: MESSAGES.MaintainerDeprecated(), ...at(ins) }));
}
