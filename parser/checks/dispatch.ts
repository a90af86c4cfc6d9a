// The rules BuildKit runs while it dispatches a stage's instructions, so only for the stages a build reaches (all of
// them under --check): LegacyKeyValueFormat, SecretsUsedInArgOrEnv, JSONArgsRecommended,
// MultipleInstructionsDisallowed, WorkdirRelativePath, ExposeProtoCasing and ExposeInvalidFormat. A stage built FROM
// another stage inherits its SHELL and whether it set an absolute WORKDIR; what a base image from a registry sets is
// not known here.
import { ExpandError, processWord } from '../expand.js';
import type { TypedInstruction } from '../instructions/types.js';
import { MESSAGES } from './rules.js';
import { at, baseStage, writtenKeyword, type Finding, type Split, type Stage } from './types.js';

// dockerfile2llb getSecretsRegex: a token as the whole key, or its first or last `_`-separated word, any case (the
// key is lower-cased first: an `i` flag would make V8 load its case tables on every build)
const SECRET = /(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)/;
const ALLOWED = /(?:_|^)(?:public)(?:_|$)/;

/** What a stage hands to a stage built FROM it. */
interface Inherited {
  shell: boolean;
  workdirSet: boolean;
}

export function dispatched(split: Split, reached: ReadonlySet<number> | undefined): Finding[] {
  const out: Finding[] = [];
  const ends = new Map<number, Inherited>();
  for (const stage of split.stages) {
    const base = baseStage(split, stage);
    const start = base !== undefined ? ends.get(base) : undefined;
    const end = dispatchStage(stage, start ?? { shell: false, workdirSet: false }, split.escapeToken, (f) => {
      if (reached === undefined || reached.has(stage.index)) out.push(f);
    });
    ends.set(stage.index, end);
  }
  return out;
}

function dispatchStage(stage: Stage, start: Inherited, esc: string, report: (f: Finding) => void): Inherited {
  const state = { ...start };
  const last = new Map<string, TypedInstruction>();
  for (const ins of stage.instructions) {
    const kw = writtenKeyword(ins);
    switch (ins.kind) {
      case 'env':
      case 'label':
        if (ins.legacy)
          report({ rule: 'LegacyKeyValueFormat', message: MESSAGES.LegacyKeyValueFormat(kw), ...at(ins) });
        if (ins.kind === 'env') for (const { key } of ins.pairs) secret('ENV', key, ins, report);
        break;
      case 'arg':
        for (const { name } of ins.args) secret('ARG', name, ins, report);
        break;
      case 'shell':
        state.shell = ins.shell.length > 0;
        break;
      case 'cmd':
      case 'entrypoint':
      case 'healthcheck': {
        const prev = last.get(ins.kind);
        // the earlier one is reported: it is the one that has no effect
        if (prev)
          report({
            rule: 'MultipleInstructionsDisallowed',
            message: MESSAGES.MultipleInstructionsDisallowed(kw),
            ...at(prev),
          });
        last.set(ins.kind, ins);
        if (ins.kind !== 'healthcheck' && !ins.json && !state.shell)
          report({ rule: 'JSONArgsRecommended', message: MESSAGES.JSONArgsRecommended(kw), ...at(ins) });
        break;
      }
      case 'expose':
        for (const word of ins.words) {
          const ports = constantWord(word, esc);
          for (const port of ports === undefined ? [] : ports.split(/\s+/).filter(Boolean)) exposed(port, ins, report);
        }
        break;
      case 'workdir': {
        if (!state.workdirSet) {
          const path = constantWord(ins.word, esc);
          if (path !== undefined && !path.startsWith('/'))
            report({ rule: 'WorkdirRelativePath', message: MESSAGES.WorkdirRelativePath(path), ...at(ins) });
        }
        state.workdirSet = true;
        break;
      }
      default:
        break;
    }
  }
  return state;
}

/** dockerfile2llb parsePort's lint: `80/TCP` (protocol case), `8080:80` or `127.0.0.1:80:80` (a mapping). */
function exposed(port: string, ins: TypedInstruction, report: (f: Finding) => void): void {
  const parts = port.split(':');
  const container = parts.at(-1)!;
  const hostPort = parts.length >= 2 ? parts.at(-2)! : '';
  const ip = parts.length >= 3 ? parts.slice(0, -2).join(':') : '';
  const slash = container.indexOf('/');
  const proto = slash < 0 ? '' : container.slice(slash + 1);
  if (proto !== proto.toLowerCase())
    report({ rule: 'ExposeProtoCasing', message: MESSAGES.ExposeProtoCasing(port), ...at(ins) });
  if (ip !== '' || hostPort !== '')
    report({ rule: 'ExposeInvalidFormat', message: MESSAGES.ExposeInvalidFormat(port), ...at(ins) });
}

function secret(instruction: 'ENV' | 'ARG', key: string, ins: TypedInstruction, report: (f: Finding) => void): void {
  const k = key.toLowerCase();
  if (SECRET.test(k) && !ALLOWED.test(k))
    report({ rule: 'SecretsUsedInArgOrEnv', message: MESSAGES.SecretsUsedInArgOrEnv(instruction, key), ...at(ins) });
}

/** The word with quotes removed, or undefined when it reads a variable (its value is only known at build time). */
function constantWord(word: string, esc: string): string | undefined {
  let readsVariable = false;
  try {
    const r = processWord(
      word,
      {
        get: () => {
          readsVariable = true;
          return undefined;
        },
      },
      { escapeToken: esc },
    );
    return readsVariable ? undefined : r.word;
  } catch (e) {
    if (e instanceof ExpandError) return undefined;
    throw e;
  }
}
