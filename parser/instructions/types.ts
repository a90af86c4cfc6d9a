// Typed instructions, one shape per family (BuildKit's instructions/commands.go): what the builder reads instead of
// the parser's untyped node. Words stay unexpanded (stages expand them with their own variables); flags are fields.
import type { Heredoc, SourceRange } from '../types.js';

interface Common {
  /** Upper-case keyword as written (COPY or ADD for a CopyInstruction). */
  keyword: string;
  range: SourceRange;
  /** The source text as written, for messages and the ONBUILD trigger. */
  original: string;
  /** Flags given that tsbuild cannot honour (`--device`): the build refuses the instruction. */
  unsupported: string[];
}

export interface FromInstruction extends Common {
  kind: 'from';
  image: string;
  /** `AS name` as written. */
  stageName: string | undefined;
  platform: string | undefined;
}

export interface RunInstruction extends Common {
  kind: 'run';
  /** Exec form: its strings; shell form: the command as one string. */
  args: string[];
  json: boolean;
  heredocs: Heredoc[];
  /** `RUN <<EOF` alone: the heredoc is the whole script. */
  heredocScript: boolean;
  /** `--mount` values, unexpanded. */
  mounts: string[];
  network: string | undefined;
  security: string | undefined;
}

/** A COPY/ADD source word: a path (or URL), or a heredoc marker with the body it names. */
export type CopySource = { kind: 'path'; word: string } | { kind: 'heredoc'; word: string; heredoc: Heredoc };

export interface CopyInstruction extends Common {
  kind: 'copy';
  keyword: 'COPY' | 'ADD';
  sources: CopySource[];
  dest: string;
  json: boolean;
  heredocs: Heredoc[];
  from: string | undefined;
  chown: string | undefined;
  chmod: string | undefined;
  link: boolean;
  parents: boolean;
  exclude: string[];
  /** ADD only. */
  checksum: string | undefined;
  /** ADD of a Git repository only: keep its `.git` directory. */
  keepGitDir: boolean;
}

export interface KeyValue {
  key: string;
  value: string;
}

export interface EnvInstruction extends Common {
  kind: 'env';
  pairs: KeyValue[];
  /** The legacy `ENV key value` form (whitespace, no `=`): the LegacyKeyValueFormat check reads it. */
  legacy: boolean;
}

export interface LabelInstruction extends Common {
  kind: 'label';
  pairs: KeyValue[];
  /** The legacy `LABEL key value` form. */
  legacy: boolean;
}

export interface ArgInstruction extends Common {
  kind: 'arg';
  /** `name[=value]` words; `value` undefined when there is no `=`. */
  args: { name: string; value: string | undefined }[];
}

/** CMD and ENTRYPOINT. */
export interface CommandLineInstruction extends Common {
  kind: 'cmd' | 'entrypoint';
  args: string[];
  json: boolean;
}

export interface ShellInstruction extends Common {
  kind: 'shell';
  shell: string[];
  json: boolean;
}

/** WORKDIR, USER, STOPSIGNAL, MAINTAINER: one word (or text) each. */
export interface WordInstruction extends Common {
  kind: 'workdir' | 'user' | 'stopsignal' | 'maintainer';
  word: string;
}

/** EXPOSE and VOLUME. */
export interface ListInstruction extends Common {
  kind: 'expose' | 'volume';
  words: string[];
  json: boolean;
}

export interface HealthcheckInstruction extends Common {
  kind: 'healthcheck';
  /** null for HEALTHCHECK NONE. */
  test: { args: string[]; json: boolean } | null;
  interval: string | undefined;
  timeout: string | undefined;
  startPeriod: string | undefined;
  startInterval: string | undefined;
  retries: string | undefined;
}

export interface OnbuildInstruction extends Common {
  kind: 'onbuild';
  /** The trigger's text as written (with its heredoc bodies), as the image stores it. */
  trigger: string;
  heredocs: Heredoc[];
}

export type TypedInstruction =
  | FromInstruction
  | RunInstruction
  | CopyInstruction
  | EnvInstruction
  | LabelInstruction
  | ArgInstruction
  | CommandLineInstruction
  | ShellInstruction
  | WordInstruction
  | ListInstruction
  | HealthcheckInstruction
  | OnbuildInstruction;
