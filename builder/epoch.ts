// SOURCE_DATE_EPOCH, the time a reproducible build clamps to. BuildKit reads it from the build arg
// (`--build-arg SOURCE_DATE_EPOCH=…`); buildx passes its environment variable as that build arg when the arg is not
// given. So here: the build arg wins, the environment variable is the fallback.
import { UsageError } from '../oci/index.js';

export const SOURCE_DATE_EPOCH = 'SOURCE_DATE_EPOCH';

/**
 * The epoch (seconds) the build clamps to, or undefined. A malformed build arg is a usage error; a malformed
 * environment variable is ignored with a warning (it may be meant for another tool).
 */
export function sourceDateEpoch(
  buildArgs: Record<string, string> | undefined,
  environment: NodeJS.ProcessEnv,
): { epoch: number | undefined; warning?: string } {
  const arg = buildArgs?.[SOURCE_DATE_EPOCH];
  if (arg !== undefined) {
    if (!/^\d+$/.test(arg))
      throw new UsageError(`--build-arg ${SOURCE_DATE_EPOCH}="${arg}": expected a number of seconds since the epoch`);
    return { epoch: Number(arg) };
  }
  const v = environment[SOURCE_DATE_EPOCH];
  if (v === undefined || v === '') return { epoch: undefined };
  if (/^\d+$/.test(v)) return { epoch: Number(v) };
  return {
    epoch: undefined,
    warning: `${SOURCE_DATE_EPOCH}="${v}" in the environment is not a number of seconds since the epoch: ignored`,
  };
}
