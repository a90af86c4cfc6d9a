#!/usr/bin/env node
// Bundles the compiled CLI (dist/cli/main.js, tsc's output) into one CommonJS file, dist/bundle/main.cjs, which
// bin/tsbuild loads through a V8 code cache (dist/bundle/cache/, written by the first run of each command): no
// module resolution, no per-module loader work, no recompiling. A module the CLI imports lazily stays lazy inside
// the bundle (esbuild wraps it in an init function run on first import), so a command still runs only the code it
// uses (what it saves, and how to check it still does: docs/performance.md). bin/tsbuild runs only the bundle, and
// refuses one older than tsc's last emit. The worker threads get bundles of their own beside main.cjs.
//   - koffi stays external (a native addon, loaded with require at run time).
//   - the zstd packages (store/layer-tar/zstd.ts: @toondepauw/node-zstd, a native addon, and fzstd) are loaded
//     through createRequire on first use, which esbuild leaves alone: they resolve from node_modules at run time.
//   - chevrotain: the parser loads the package's own single-file build at run time (parser/chevrotain.ts, with a
//     top-level await, which CommonJS cannot hold); here that module is replaced by a static re-export of the same
//     file, bundled.
//   - import.meta.url is the bundle's own URL (dist/bundle/ is as deep as dist/cli/, so relative URLs still resolve).
//   - dynamic import() of Node's built-ins becomes require() (a vm.Script's import() needs a loader callback).
//   - Built-ins that a module imports at its top but uses only in some calls (https and its tls for node-fetch, zlib,
//     child_process for commander, worker_threads, assert for signal-exit) are loaded on first use: each costs Node
//     its own internal modules to load, ~20 of them, which a cached build from a plain-HTTP registry never uses.
//   - graceful-fs (proper-lockfile's fs) is Node's fs: the lock's few calls need no EMFILE queue, and cloning the fs
//     module at load cost every process time.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// A module object loaded on first property access (`x.createGunzip`, `'k' in x`, Object.keys(x)).
const LAZY_HELPERS = `function __tsbuildLazy(id) {
  let m;
  const load = () => (m ??= require(id));
  return new Proxy({}, {
    get: (_, k) => load()[k],
    has: (_, k) => k in load(),
    ownKeys: () => Reflect.ownKeys(load()),
    getOwnPropertyDescriptor: (_, k) => { const d = Reflect.getOwnPropertyDescriptor(load(), k); if (d) d.configurable = true; return d; },
  });
}
function __tsbuildLazyDefault(id) {
  const mod = __tsbuildLazy(id);
  return new Proxy({}, { get: (_, k) => (k === 'default' ? mod : mod[k]), has: (_, k) => k === 'default' || k in mod });
}`;
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
  banner: {
    js: [
      "'use strict';",
      "const __tsbuildBundleUrl = require('node:url').pathToFileURL(__filename).href;",
      LAZY_HELPERS,
    ].join('\n'),
  },
  plugins: [
    {
      name: 'graceful-fs-is-fs',
      setup(b) {
        b.onResolve({ filter: /^graceful-fs$/ }, () => ({ path: 'node:fs', external: true }));
      },
    },
    {
      // signal-exit (proper-lockfile's) checks one argument with assert.equal when it registers: loading assert
      // costs four internal modules
      name: 'signal-exit-assert',
      setup(b) {
        b.onResolve({ filter: /^assert$/ }, (a) =>
          a.importer.includes(join('node_modules', 'signal-exit'))
            ? { path: 'assert', namespace: 'tsbuild-static' }
            : undefined,
        );
      },
    },
    {
      name: 'chevrotain-static',
      setup(b) {
        b.onResolve({ filter: /\/chevrotain\.js$/ }, (a) =>
          a.importer.includes(`${join('dist', 'parser')}`)
            ? { path: 'chevrotain', namespace: 'tsbuild-static' }
            : undefined,
        );
        b.onLoad({ filter: /^chevrotain$/, namespace: 'tsbuild-static' }, () => ({
          contents: `export * from ${JSON.stringify(chevrotainBuild)};`,
          resolveDir: root,
        }));
        b.onLoad({ filter: /^assert$/, namespace: 'tsbuild-static' }, () => ({
          contents: 'exports.equal = (a, b, message) => { if (a != b) throw new Error(message); };',
          loader: 'js',
        }));
      },
    },
  ],
  logLevel: 'warning',
});
// Worker threads start from files of their own (store/worker-file.ts finds them beside main.cjs): one ES module each,
// bundled, with only Node's built-ins outside.
await build({
  entryPoints: {
    'hash-worker': join(root, 'dist', 'store', 'hash-worker.js'),
    'file-worker': join(root, 'dist', 'store', 'layer-tar', 'file-worker.js'),
  },
  outdir,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
});
const code = await readFile(outfile, 'utf8');
const lazy = 'https|zlib|child_process|worker_threads|assert';
const out = code
  .replace(/(?<![\w$.])import\("(node:[\w/]+)"\)/g, 'Promise.resolve(require("$1"))')
  .replace(new RegExp(`__toESM\\(require\\("(?:node:)?(${lazy})"\\), 1\\)`, 'g'), '__tsbuildLazyDefault("node:$1")')
  .replace(new RegExp(`(?<=[\\w$]+ = )require\\("(?:node:)?(${lazy})"\\)(?=;)`, 'g'), '__tsbuildLazy("node:$1")');
// Pure ASCII (esbuild escapes strings, not regular expressions or comments): bin/tsbuild reads it as latin1, a
// one-byte string made without UTF-8 decoding (faster to make than decoding the UTF-8).
const ascii = out.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
const left = ascii.match(/(?<![\w$.])import\("[^"]*"\)/g);
if (left) throw new Error(`bundle: dynamic imports left in ${outfile}: ${[...new Set(left)].join(', ')}`);
await writeFile(outfile, ascii);

// The command names, for bin/tsbuild's per-command code cache: from the CLI's own help, so that a new command needs
// no second list.
const help = spawnSync(process.execPath, [join(root, 'dist', 'cli', 'main.js'), '--help'], { encoding: 'utf8' });
const commands = help.stdout
  .slice(help.stdout.indexOf('\nCommands:\n'))
  .split('\n')
  .flatMap((line) => /^ {2}([\w|-]+)/.exec(line)?.[1].split('|') ?? []);
if (help.status !== 0 || !commands.includes('build')) throw new Error(`bundle: no commands in \`tsbuild --help\``);
await writeFile(join(outdir, 'commands.json'), JSON.stringify(commands) + '\n');

// The parser build, which keys the cache of parse results (builder/build.ts, parseCached): a hash of the parser's
// compiled code and the chevrotain it runs.
const parserDir = join(root, 'dist', 'parser');
const parserHash = createHash('sha256');
for (const f of (await readdir(parserDir, { recursive: true })).filter((f) => f.endsWith('.js')).sort())
  parserHash.update(`${f}\0`).update(await readFile(join(parserDir, f)));
parserHash.update(await readFile(chevrotainBuild));
await writeFile(join(parserDir, 'build-id'), parserHash.digest('hex'));
