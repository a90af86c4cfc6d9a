// The build's event stream: the builder emits these, the CLI's progress renderers (tty, plain, json), the build
// report and API users consume them. Plain data; `type` discriminates.

export interface StepRef {
  /** Stage name or index as text (`builder`, `0`). */
  stage: string;
  /** 1-based step number within the stage and the stage's step count. */
  index: number;
  total: number;
  /** The instruction as written, e.g. `RUN make`. */
  instruction: string;
  line: number;
  /**
   * In a multi-platform build, the target platform the step is built for (`linux/arm64`); `stage` then starts
   * with it, as BuildKit's progress shows `[linux/arm64 build 2/3]`. Absent in a single-platform build.
   */
  platform?: string;
}

export type BuildEvent =
  | { type: 'build-start'; time: number; stages: { name: string; dependsOn: string[] }[] }
  | { type: 'step-start'; time: number; step: StepRef }
  | { type: 'step-cached'; time: number; step: StepRef }
  | { type: 'step-output'; time: number; step: StepRef; stream: 'stdout' | 'stderr'; line: string }
  | {
      type: 'step-end';
      time: number;
      step: StepRef;
      cached: boolean;
      durationMs: number;
      layer?: { digest: string; size: number };
      error?: string;
    }
  | { type: 'cache-miss'; time: number; step: StepRef; reason: string }
  | { type: 'pull-progress'; time: number; ref: string; digest: string; current: number; total: number }
  | { type: 'push-progress'; time: number; ref: string; digest: string; current: number; total: number }
  /** The image's manifest as the registry stored it under one tag (once per -t name with --push). */
  | { type: 'image-pushed'; time: number; ref: string; digest: string }
  | { type: 'log'; time: number; level: 'info' | 'warn'; message: string }
  | {
      /** A build check fired (BuildKit's linter rules, parser/checks/): the rule, its message and its lines. */
      type: 'check-warning';
      time: number;
      rule: string;
      message: string;
      description: string;
      url: string;
      file: string;
      line: number;
      endLine: number;
    }
  | { type: 'build-end'; time: number; ok: boolean; imageId?: string; manifestDigest?: string; error?: string }
  // The CLI's last word on a `--progress=json` stream, instead of plain text: what was built and its names, or the
  // error the command failed with (the text it prints otherwise) and the exit code it returns.
  | {
      type: 'result';
      time: number;
      imageId: string;
      manifestDigest: string;
      tags: string[];
      /** With --push: the digest the registry stored, per tag. */
      pushed?: { ref: string; digest: string }[];
    }
  | { type: 'error'; time: number; message: string; code?: string; hint?: string; exitCode: number };

export type BuildEventListener = (e: BuildEvent) => void;
