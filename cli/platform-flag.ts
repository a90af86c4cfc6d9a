// `--platform` of `inspect` and `run`: one platform of a multi-platform image.
import type { Platform } from '../oci/index.js';
import { UsageError } from './context.js';

/** The platform asked for; a malformed one (or a list) is a usage error naming the flag (exit 2). */
export async function platformFlag(text: string): Promise<Platform> {
  const { parsePlatform } = await import('../oci/index.js');
  try {
    return parsePlatform(text);
  } catch (e) {
    throw new UsageError(`--platform: ${(e as Error).message}`);
  }
}
