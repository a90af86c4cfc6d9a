// The key `--build-context` names and FROM / --from words are matched by (builder/named-contexts.ts), pure so the
// plan can use it.
import { parseReference } from '../oci/index.js';

/**
 * The key a FROM / --from word matches named contexts by (BuildKit: reference.FamiliarString, `:latest` trimmed);
 * a word that is no image reference matches only itself, lower-cased.
 */
export function contextKey(word: string): string {
  try {
    const r = parseReference(word);
    let name = r.registry === 'docker.io' ? r.repository.replace(/^library\//, '') : `${r.registry}/${r.repository}`;
    if (r.tag !== undefined && r.tag !== 'latest') name += `:${r.tag}`;
    if (r.digest !== undefined) name += `@${r.digest}`;
    return name;
  } catch {
    return word.toLowerCase();
  }
}
