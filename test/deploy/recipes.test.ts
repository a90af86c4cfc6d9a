// Every install recipe in the docs installs exactly this project. The npm name `tsbuild` belongs to an unrelated
// package, so a copy-pasted `npm install -g tsbuild` in a CI job runs someone else's code as root. Until tsbuild is
// published, a recipe installs the tarball `npm pack` makes (`tsbuild-oci-VERSION.tgz`); `npx` may run only a tool
// this checkout's devDependencies provide (`npx tsc`, `npx vitest`), which resolves to node_modules/.bin.
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
  name: string;
  devDependencies: Record<string, string>;
};

/** The tarball `npm pack` makes of this package, at any path, with a version, a placeholder or none. */
const OUR_TARBALL = new RegExp(`(^|/)${pkg.name}(-[\\w.${'$'}{}-]+)?\\.tgz$`);

/** Flags of npm install/npx that take a value (the value is not a package). */
const VALUE_FLAGS = new Set(['--prefix', '--registry', '--omit', '--include', '--location', '--cache', '-C']);

/** The commands of devDependencies, which `npx` in a checkout runs from node_modules/.bin. */
function devBins(): Set<string> {
  const bins = new Set<string>();
  for (const dep of Object.keys(pkg.devDependencies)) {
    const manifest = JSON.parse(readFileSync(join(repo, 'node_modules', dep, 'package.json'), 'utf8')) as {
      name: string;
      bin?: string | Record<string, string>;
    };
    if (typeof manifest.bin === 'string') bins.add(manifest.name.replace(/^@[^/]+\//, ''));
    else for (const b of Object.keys(manifest.bin ?? {})) bins.add(b);
  }
  return bins;
}

interface Finding {
  command: string;
  name: string;
}

/**
 * The packages a text's `npm install`/`npm i`/`npm add`/`npx` commands would fetch that are not this project.
 * A command ends at a shell separator, a backtick, a comment or the end of the line.
 */
function foreignInstalls(text: string, localBins: Set<string>): Finding[] {
  const found: Finding[] = [];
  const re = /\b(npm\s+(?:install|i|add|isntall|in)|npx)\b([^\n`|;&#)]*)/g;
  for (const m of text.matchAll(re)) {
    const words = m[2]!.trim().split(/\s+/).filter(Boolean);
    const command = m[0].trim();
    if (m[1] === 'npx') {
      // npx runs its first word; a package named by flag before it (`npx -p X cmd`) is refused as well
      const tool = words.find((w) => !w.startsWith('-'));
      const pkgFlag = words
        .slice(0, tool === undefined ? words.length : words.indexOf(tool))
        .find((w) => w.startsWith('--package') || w === '-p');
      if (pkgFlag !== undefined) found.push({ command, name: pkgFlag });
      else if (tool !== undefined && !localBins.has(tool) && !OUR_TARBALL.test(tool))
        found.push({ command, name: tool });
      continue;
    }
    const positional: string[] = [];
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      if (w === '\\') continue;
      if (w.startsWith('-')) {
        if (VALUE_FLAGS.has(w)) i++;
        continue;
      }
      positional.push(w.replace(/^["']|["']$/g, ''));
    }
    for (const p of positional) if (!OUR_TARBALL.test(p)) found.push({ command, name: p });
  }
  return found;
}

/** README, CONTRIBUTING, docs/, samples/ and deploy/: what users copy from. */
function docFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir)) {
      const p = join(dir, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(md|ya?ml|sh)$|(^|\/)Buildfile$/.test(p)) out.push(p);
    }
  };
  for (const d of ['docs', 'samples', 'deploy']) if (existsSync(join(repo, d))) walk(join(repo, d));
  return [join(repo, 'README.md'), join(repo, 'CONTRIBUTING.md'), ...out];
}

describe('install recipes in the docs', () => {
  const bins = devBins();

  it.each([
    ['npm install -g tsbuild', ['tsbuild']],
    ['run: npm i -g tsbuild@latest  # see below', ['tsbuild@latest']],
    ['  - npm install --global --prefix /opt/x tsbuild', ['tsbuild']],
    ['npx tsbuild build .', ['tsbuild']],
    ['npx --package=tsbuild tsbuild', ['--package=tsbuild']],
    ['npm install -g ./tsbuild-oci-0.1.0.tgz', []],
    ['npm install -g /ctx/tsbuild-oci-${VERSION}.tgz && tsbuild --version', []],
    ['npm install -g ./tsbuild-VERSION.tgz', ['./tsbuild-VERSION.tgz']],
    ['npm install --global --offline --cache /c /tmp/tsbuild-oci.tgz \\', []],
    ['npm install -g ./tsbuild.tgz', ['./tsbuild.tgz']],
    ['npx tsc -p tsconfig.json', []],
    ['`npm ci`, then `npm install`', []],
  ])('the scanner judges %j', (text, names) => {
    expect(foreignInstalls(text, bins).map((f) => f.name)).toEqual(names);
  });

  it('the package is not named tsbuild (an unrelated npm package) and keeps the tsbuild command', () => {
    const p = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { name: string; bin: object };
    expect(p.name).not.toBe('tsbuild');
    expect(p.bin).toEqual({ tsbuild: 'bin/tsbuild' });
  });

  it('no recipe in README, CONTRIBUTING, docs/, samples/ or deploy/ installs a package other than this one', () => {
    const bad = docFiles().flatMap((f) =>
      foreignInstalls(readFileSync(f, 'utf8'), bins).map((x) => `${relative(repo, f)}: ${x.command} → ${x.name}`),
    );
    expect(bad).toEqual([]);
  });
});
