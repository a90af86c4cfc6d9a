// tsbuild's version, from package.json: `--version` prints it and the build report names it.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function tsbuildVersion(): string {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}
