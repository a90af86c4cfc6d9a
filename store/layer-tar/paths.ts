// Tar entry names made safe: normalized, relative, never climbing out of the destination.
import { LayerError } from '../errors.js';

/**
 * Normalizes a tar entry name to its components: leading `/` and `./` are dropped (an absolute name is taken as
 * relative to the root, as tar does); `.` components vanish; `..` is refused outright.
 */
export function entryComponents(name: string, digest?: string): string[] {
  const parts: string[] = [];
  for (const p of name.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..')
      throw new LayerError(`layer entry "${name}" climbs out of the root with ..`, {
        path: name,
        ...(digest ? { digest } : {}),
      });
    if (p.includes('\0'))
      throw new LayerError(`layer entry "${name}" contains a NUL byte`, { path: name, ...(digest ? { digest } : {}) });
    parts.push(p);
  }
  return parts;
}
