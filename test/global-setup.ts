import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// `npm test` builds first (tsc, then the bundle) so the CLI tests run the same bin/tsbuild users run, and the
// in-process tests find the compiled worker threads.
export default function setup(): void {
  const main = fileURLToPath(new URL('../dist/bundle/main.cjs', import.meta.url));
  if (!existsSync(main)) throw new Error(`${main} is missing: run the tests with \`npm test\` (it compiles first)`);
  if (process.getuid?.() !== 0) throw new Error('tsbuild tests need root (namespaces, overlay mounts)');
}
