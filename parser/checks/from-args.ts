// The FROM word rules (dockerfile2llb toDispatchState): UndefinedArgInFrom for a variable that is neither a meta
// ARG nor predefined, RedundantTargetPlatform for `--platform=$TARGETPLATFORM`, FromPlatformFlagConstDisallowed
// for a constant `--platform` that the stage name does not explain.
import { ExpandError, processWord } from '../expand.js';
import { MESSAGES } from './rules.js';
import { suggest, type SuggestBudget } from './suggest.js';
import { at, type Finding, type Split, type Stage } from './types.js';

/**
 * The global scope BuildKit predefines (defaultArgs), with stand-in values: the checks need to know which variables
 * a word reads and whether the result can name an image, not what the platform is.
 */
const PREDEFINED = new Map([
  ['BUILDPLATFORM', 'linux/amd64'],
  ['BUILDOS', 'linux'],
  ['BUILDOSVERSION', ''],
  ['BUILDARCH', 'amd64'],
  ['BUILDVARIANT', ''],
  ['TARGETPLATFORM', 'linux/amd64'],
  ['TARGETOS', 'linux'],
  ['TARGETOSVERSION', ''],
  ['TARGETARCH', 'amd64'],
  ['TARGETVARIANT', ''],
  ['TARGETSTAGE', 'default'],
]);

interface Expanded {
  result: string;
  /** Variables the word read, in order. */
  read: string[];
}

function expandRecording(word: string, scope: ReadonlyMap<string, string>, escapeToken: string): Expanded | undefined {
  // a Set: one word may read a great many variables
  const read = new Set<string>();
  try {
    const result = processWord(
      word,
      {
        get: (name: string) => {
          read.add(name);
          return scope.get(name);
        },
      },
      { escapeToken },
    ).word;
    return { result, read: [...read] };
  } catch (e) {
    if (e instanceof ExpandError) return undefined; // the build reports it
    throw e;
  }
}

/** Meta ARG names (declared, with or without a value), and the values the FROM words see by default. */
function globalScope(split: Split): { declared: Set<string>; scope: Map<string, string> } {
  const declared = new Set<string>();
  const scope = new Map<string, string>(PREDEFINED);
  for (const ins of split.meta) {
    if (ins.kind !== 'arg') continue;
    for (const { name, value } of ins.args) {
      declared.add(name);
      if (value !== undefined) scope.set(name, expandRecording(value, scope, split.escapeToken)?.result ?? value);
    }
  }
  return { declared, scope };
}

export function fromArgs(split: Split, budget: SuggestBudget): Finding[] {
  const { declared, scope } = globalScope(split);
  const known = [...declared, ...PREDEFINED.keys()];
  const out: Finding[] = [];
  const undeclared = (e: Expanded | undefined, stage: Stage): void => {
    for (const name of e?.read ?? []) {
      if (declared.has(name) || PREDEFINED.has(name)) continue;
      out.push({
        rule: 'UndefinedArgInFrom',
        message: MESSAGES.UndefinedArgInFrom(name, suggest(name, known, budget)),
        ...at(stage.from),
      });
    }
  };
  for (const stage of split.stages) {
    const image = expandRecording(stage.from.image, scope, split.escapeToken);
    // the build args may give a variable its value, but a build without them must still name an image
    if (image && !isImageReference(image.result))
      out.push({
        rule: 'InvalidDefaultArgInFrom',
        message: MESSAGES.InvalidDefaultArgInFrom(stage.from.image),
        ...at(stage.from),
      });
    undeclared(image, stage);
    const platform = stage.from.platform;
    if (platform === undefined) continue;
    const p = expandRecording(platform, scope, split.escapeToken);
    undeclared(p, stage);
    if (!p) continue;
    if (p.read.length === 1 && p.read[0] === 'TARGETPLATFORM' && p.result === scope.get('TARGETPLATFORM'))
      out.push({
        rule: 'RedundantTargetPlatform',
        message: MESSAGES.RedundantTargetPlatform(platform),
        ...at(stage.from),
      });
    if (p.read.length === 0 && constPlatformUnexplained(p.result, stage.name))
      out.push({
        rule: 'FromPlatformFlagConstDisallowed',
        message: MESSAGES.FromPlatformFlagConstDisallowed(p.result),
        ...at(stage.from),
      });
  }
  return out;
}

const OSES = new Set(['linux', 'windows', 'darwin', 'freebsd', 'netbsd', 'openbsd', 'solaris', 'illumos', 'android']);
const ARCH_ALIASES: Record<string, string> = {
  x86_64: 'amd64',
  'x86-64': 'amd64',
  aarch64: 'arm64',
  i386: '386',
  i686: '386',
  armhf: 'arm',
  armel: 'arm',
};

/**
 * A constant platform whose OS and architecture the stage name does not mention
 * (`FROM --platform=linux/amd64 … AS build-amd64` is fine).
 */
function constPlatformUnexplained(platform: string, stageName: string): boolean {
  const parts = platform.toLowerCase().split('/');
  if (parts.some((p) => p === '') || parts.length > 3) return false; // not a platform: the build reports it
  let os: string;
  let arch: string;
  if (parts.length === 1) {
    if (OSES.has(parts[0]!)) {
      os = parts[0]!;
      arch = '';
    } else {
      os = 'linux';
      arch = parts[0]!;
    }
  } else {
    os = parts[0]!;
    arch = parts[1]!;
  }
  arch = ARCH_ALIASES[arch] ?? arch;
  return !(stageName.includes(os) || (arch !== '' && stageName.includes(arch)));
}

// distribution/reference's grammar, as ParseNormalizedNamed applies it
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const REFERENCE = new RegExp(`^(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::${TAG})?(?:@${DIGEST})?$`);

/** Whether `s` parses as an image reference (a bare 64-hex string is refused as ambiguous, as docker does). */
export function isImageReference(s: string): boolean {
  if (/^[a-f0-9]{64}$/.test(s)) return false;
  const name = s.replace(/@.*$/, '').replace(/:[\w][\w.-]*$/, '');
  return name.length <= 255 && REFERENCE.test(s);
}
