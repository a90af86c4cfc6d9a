// The runtime's errors have the one base of tsbuild's errors (oci/errors.ts): a stable `code` and a `hint` that says
// what to do. The specific ones live beside the code that throws them (LibcError in libc.ts, RootEscapeError in
// root-fd.ts, …); this is the rest: what this host lacks, and internal checks.
import { TsbuildError, type ErrorOptions } from '../oci/index.js';

/** The runtime cannot do what it was asked on this host, or was asked wrongly (the code says which). */
export class RuntimeError extends TsbuildError {
  override name = 'RuntimeError';
  constructor(code: string, message: string, opts: ErrorOptions = {}) {
    super(code, message, opts);
  }
}

/** The hint of an error the runtime wraps (a step that failed inside it), if it has one. */
export function hintOf(e: unknown): string | undefined {
  return e instanceof TsbuildError ? e.hint : undefined;
}

/** The container could not be set up (as opposed to its command failing, which is a result). */
export class ContainerSetupError extends TsbuildError {
  override name = 'ContainerSetupError';
  constructor(
    readonly containerId: string,
    readonly step: string,
    cause: unknown,
  ) {
    super(
      'CONTAINER_SETUP',
      `container ${containerId}: ${step}: ${cause instanceof Error ? cause.message : String(cause)}`,
      {
        cause,
        // the cause's own advice when it has some (a refused mount, a missing user); else where to look
        hint: hintOf(cause) ?? `setting up the container failed at "${step}": --debug prints the cause's stack`,
      },
    );
  }
}

export const REPORT_HINT = 'this is a bug in tsbuild: please report it with the command and `--debug` output';

/** Only x86_64 and aarch64 have the system call numbers and seccomp tables the runtime needs. */
export function unsupportedArch(what: string, arch: string): RuntimeError {
  return new RuntimeError('ARCH_UNSUPPORTED', `${what}: unsupported architecture ${arch}`, {
    hint: 'RUN steps need an x86_64 (x64) or aarch64 (arm64) host; a build without RUN steps works anywhere',
  });
}
