// The build-check rules tsbuild implements, named, described and linked as BuildKit's linter names them
// (frontend/dockerfile/linter/ruleset.go), so that `# check=skip=…`, docs and search engines line up with docker's.
// Each rule's message is the same text BuildKit prints.

export interface Rule {
  name: string;
  description: string;
  url: string;
}

const url = (slug: string): string => `https://docs.docker.com/go/dockerfile/rule/${slug}/`;

export const RULES = {
  StageNameCasing: {
    name: 'StageNameCasing',
    description: 'Stage names should be lowercase',
    url: url('stage-name-casing'),
  },
  FromAsCasing: {
    name: 'FromAsCasing',
    description: "The 'as' keyword should match the case of the 'from' keyword",
    url: url('from-as-casing'),
  },
  ConsistentInstructionCasing: {
    name: 'ConsistentInstructionCasing',
    description: 'All commands within the Dockerfile should use the same casing (either upper or lower)',
    url: url('consistent-instruction-casing'),
  },
  DuplicateStageName: {
    name: 'DuplicateStageName',
    description: 'Stage names should be unique',
    url: url('duplicate-stage-name'),
  },
  ReservedStageName: {
    name: 'ReservedStageName',
    description: 'Reserved words should not be used as stage names',
    url: url('reserved-stage-name'),
  },
  JSONArgsRecommended: {
    name: 'JSONArgsRecommended',
    description: 'JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals',
    url: url('json-args-recommended'),
  },
  MaintainerDeprecated: {
    name: 'MaintainerDeprecated',
    description: 'The MAINTAINER instruction is deprecated, use a label instead to define an image author',
    url: url('maintainer-deprecated'),
  },
  UndefinedArgInFrom: {
    name: 'UndefinedArgInFrom',
    description: 'FROM command must use declared ARGs',
    url: url('undefined-arg-in-from'),
  },
  WorkdirRelativePath: {
    name: 'WorkdirRelativePath',
    description:
      'Relative workdir without an absolute workdir declared within the build can have unexpected results if the base image changes',
    url: url('workdir-relative-path'),
  },
  UndefinedVar: {
    name: 'UndefinedVar',
    description: 'Variables should be defined before their use',
    url: url('undefined-var'),
  },
  MultipleInstructionsDisallowed: {
    name: 'MultipleInstructionsDisallowed',
    description: 'Multiple instructions of the same type should not be used in the same stage',
    url: url('multiple-instructions-disallowed'),
  },
  LegacyKeyValueFormat: {
    name: 'LegacyKeyValueFormat',
    description: 'Legacy key/value format with whitespace separator should not be used',
    url: url('legacy-key-value-format'),
  },
  RedundantTargetPlatform: {
    name: 'RedundantTargetPlatform',
    description: 'Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior',
    url: url('redundant-target-platform'),
  },
  SecretsUsedInArgOrEnv: {
    name: 'SecretsUsedInArgOrEnv',
    description: 'Sensitive data should not be used in the ARG or ENV commands',
    url: url('secrets-used-in-arg-or-env'),
  },
  InvalidDefaultArgInFrom: {
    name: 'InvalidDefaultArgInFrom',
    description: 'Default value for global ARG results in an empty or invalid base image name',
    url: url('invalid-default-arg-in-from'),
  },
  FromPlatformFlagConstDisallowed: {
    name: 'FromPlatformFlagConstDisallowed',
    description: 'FROM --platform flag should not use a constant value',
    url: url('from-platform-flag-const-disallowed'),
  },
  ExposeProtoCasing: {
    name: 'ExposeProtoCasing',
    description: 'Protocol in EXPOSE instruction should be lowercase',
    url: url('expose-proto-casing'),
  },
  ExposeInvalidFormat: {
    name: 'ExposeInvalidFormat',
    description:
      'IP address and host-port mapping should not be used in EXPOSE instruction. This will become an error in a future release',
    url: url('expose-invalid-format'),
  },
} as const satisfies Record<string, Rule>;

export type RuleName = keyof typeof RULES;

/** The messages, word for word BuildKit's `Format` functions. */
export const MESSAGES = {
  StageNameCasing: (stage: string) => `Stage name '${stage}' should be lowercase`,
  FromAsCasing: (from: string, as: string) => `'${as}' and '${from}' keywords' casing do not match`,
  ConsistentInstructionCasing: (command: string, casing: string) =>
    `Command '${command}' should match the case of the command majority (${casing})`,
  DuplicateStageName: (stage: string) => `Duplicate stage name ${goQuote(stage)}, stage names should be unique`,
  ReservedStageName: (stage: string) => `Stage name should not use the same name as reserved stage ${goQuote(stage)}`,
  JSONArgsRecommended: (instruction: string) =>
    `JSON arguments recommended for ${instruction} to prevent unintended behavior related to OS signals`,
  MaintainerDeprecated: () => 'Maintainer instruction is deprecated in favor of using label',
  UndefinedArgInFrom: (arg: string, suggest: string | undefined) =>
    `FROM argument '${arg}' is not declared${suggest ? ` (did you mean ${suggest}?)` : ''}`,
  WorkdirRelativePath: (workdir: string) =>
    `Relative workdir ${goQuote(workdir)} can have unexpected results if the base image changes`,
  UndefinedVar: (name: string, suggest: string | undefined) =>
    `Usage of undefined variable '$${name}'${suggest ? ` (did you mean $${suggest}?)` : ''}`,
  MultipleInstructionsDisallowed: (instruction: string) =>
    `Multiple ${instruction} instructions should not be used in the same stage because only the last one will be used`,
  LegacyKeyValueFormat: (instruction: string) =>
    `"${instruction} key=value" should be used instead of legacy "${instruction} key value" format`,
  RedundantTargetPlatform: (platformVar: string) =>
    `Setting platform to predefined ${platformVar} in FROM is redundant as this is the default behavior`,
  SecretsUsedInArgOrEnv: (instruction: string, key: string) =>
    `Do not use ARG or ENV instructions for sensitive data (${instruction} ${goQuote(key)})`,
  InvalidDefaultArgInFrom: (baseName: string) =>
    `Default value for ARG ${baseName} results in empty or invalid base image name`,
  FromPlatformFlagConstDisallowed: (platform: string) =>
    `FROM --platform flag should not use constant value ${goQuote(platform)}`,
  ExposeProtoCasing: (port: string) => `Defined protocol '${port}' in EXPOSE instruction should be lowercase`,
  ExposeInvalidFormat: (port: string) =>
    `EXPOSE instruction should not define an IP address or host-port mapping, found '${port}'`,
} satisfies Record<RuleName, (...args: never[]) => string>;

/** Go's %q for the printable text Buildfiles hold: double quotes, with `"` and `\` escaped. */
export function goQuote(s: string): string {
  return JSON.stringify(s);
}
