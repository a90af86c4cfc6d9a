// The one base of tsbuild's errors (pnpm's PnpmError): a stable `code` that callers and tests match instead of the
// message, and a `hint` saying what to do about it. parser/ imports nothing, so an error of its gives itself the same
// two fields instead (parser's BuildfileError); runtime/ imports this part for its errors alone. The CLI picks exit
// codes by class (cli/errors.ts exitCodeFor).

export interface ErrorOptions {
  hint?: string | undefined;
  cause?: unknown;
}

export class TsbuildError extends Error {
  override name = 'TsbuildError';
  readonly hint: string | undefined;

  constructor(
    readonly code: string,
    message: string,
    opts: ErrorOptions = {},
  ) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.hint = opts.hint;
  }
}

/** A mistake in how tsbuild was called (a flag, an argument, an entitlement not granted): the CLI exits 2. */
export class UsageError extends TsbuildError {
  override name = 'UsageError';
  constructor(message: string, opts: ErrorOptions = {}) {
    super('USAGE', message, opts);
  }
}
