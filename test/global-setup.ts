import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// `npm test` compiles first (tsc) so the CLI tests run the same bin/tsbuild users run.
export default function setup(): void {
  const main = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
  if (!existsSync(main)) throw new Error(`${main} is missing: run the tests with \`npm test\` (it compiles first)`);
  if (process.getuid?.() !== 0) throw new Error('tsbuild tests need root (namespaces, overlay mounts)');
}
