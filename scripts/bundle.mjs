#!/usr/bin/env node
// Bundles the compiled CLI (dist/cli/main.js, tsc's output) into one CommonJS file, dist/bundle/main.cjs, which
// bin/tsbuild loads through a V8 code cache (dist/bundle/cache/, written by the first run of each command): no
// module resolution, no per-module loader work, no recompiling. A module the CLI imports lazily stays lazy inside
// the bundle (esbuild wraps it in an init function run on first import), so a command still runs only the code it
// uses. Measured on a fully cached 41-step build from a registry cache: 168 → 139 ms; `tsbuild --version` 56 →
// 58 ms (docs/architecture.md). bin/tsbuild runs the bundle when it is at least as new as tsc's last emit, else
// dist/cli/main.js (ESM, unbundled).
//   - koffi stays external (a native addon, loaded with require at run time).
//   - chevrotain: the parser loads the package's own single-file build at run time (parser/chevrotain.ts, with a
//     top-level await, which CommonJS cannot hold); here that module is replaced by a static re-export of the same
//     file, bundled.
//   - import.meta.url is the bundle's own URL (dist/bundle/ is as deep as dist/cli/, so relative URLs still resolve).
//   - dynamic import() of Node's built-ins becomes require() (a vm.Script's import() needs a loader callback).
import { build } from 'esbuild';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bundle');
const outfile = join(outdir, 'main.cjs');
// Removing the directory also drops the code caches of the previous bundle.
await rm(outdir, { recursive: true, force: true });
const chevrotainBuild = join(root, 'node_modules', 'chevrotain', 'lib', 'chevrotain.min.mjs');
await build({
  entryPoints: [join(root, 'dist', 'cli', 'main.js')],
  outfile,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: ['koffi'],
  define: { 'import.meta.url': '__tsbuildBundleUrl' },
  banner: { js: "'use strict';\nconst __tsbuildBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [
    {
      name: 'chevrotain-static',
      setup(b) {
        b.onResolve({ filter: /\/chevrotain\.js$/ }, (a) => (a.importer.includes(`${join('dist', 'parser')}`) ? { path: 'chevrotain', namespace: 'tsbuild-static' } : undefined));
        b.onLoad({ filter: /.*/, namespace: 'tsbuild-static' }, () => ({ contents: `export * from ${JSON.stringify(chevrotainBuild)};`, resolveDir: root }));
      },
    },
  ],
  logLevel: 'warning',
});
const code = await readFile(outfile, 'utf8');
const out = code.replace(/(?<![\w$.])import\("(node:[\w/]+)"\)/g, 'Promise.resolve(require("$1"))');
const left = out.match(/(?<![\w$.])import\("[^"]*"\)/g);
if (left) throw new Error(`bundle: dynamic imports left in ${outfile}: ${[...new Set(left)].join(', ')}`);
await writeFile(outfile, out);
