#!/usr/bin/env node
// Bundles the compiled CLI (dist/cli/main.js, tsc's output) into one CommonJS file, dist/bundle/main.cjs, which
// bin/tsbuild loads through a V8 code cache (dist/bundle/cache/, written by the first run of each command): no
// module resolution, no per-module loader work, no recompiling. A module the CLI imports lazily stays lazy inside
// the bundle (esbuild wraps it in an init function run on first import), so a command still runs only the code it
// uses (what it saves, and how to check it still does: docs/performance.md). bin/tsbuild runs only the bundle, and
// refuses one older than tsc's last emit. The worker threads get bundles of their own beside main.cjs.
// Everything below is done by esbuild itself (plugins, define); its output is written as it comes.
//   - koffi stays external (a native addon, loaded with require at run time).
//   - the zstd packages (store/layer-tar/zstd.ts: @toondepauw/node-zstd, a native addon, and fzstd) are loaded
//     through createRequire on first use, which esbuild leaves alone: they resolve from node_modules at run time.
//   - chevrotain: the parser loads the package's own single-file build at run time (parser/chevrotain.ts, with a
//     top-level await, which CommonJS cannot hold); here that module is replaced by a static re-export of the same
//     file, bundled.
//   - import.meta.url is the bundle's own URL (dist/bundle/ is as deep as dist/cli/, so relative URLs still resolve).
//   - dynamic import() of Node's built-ins is resolved to a module of the bundle that requires the built-in (a
//     vm.Script's import() needs a loader callback).
//   - Built-ins that a module imports at its top but uses only in some calls (https and tls for node-fetch and
//     oci/tls-trust.ts, zlib, child_process for commander, worker_threads, assert) resolve to a module generated
//     here whose exports are getters that load the built-in on first use: each costs Node its own internal modules
//     to load, ~20 of them, which a cached build from a plain-HTTP registry never uses.
//   - graceful-fs (proper-lockfile's fs) is Node's fs: the lock's few calls need no EMFILE queue, and cloning the fs
//     module at load cost every process time.
import { build, transform } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire, isBuiltin } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Loaded on first use (see above); `assert` only by signal-exit, which gets a stub instead (below).
const LAZY_BUILTINS = new Set(['https', 'tls', 'zlib', 'child_process', 'worker_threads', 'assert']);
const requireHere = createRequire(import.meta.url);

/**
 * The lazy stand-in of a built-in: a CommonJS module whose exports are getters, one per export of the built-in as
 * the Node running this script has them, each loading the built-in on first use. esbuild's __toESM copies getters as
 * getters, so `import zlib from`, `import * as`, named imports and require() all stay lazy.
 */
function lazyBuiltin(name) {
  const real = requireHere(`node:${name}`);
  return [
    'let m;',
    `const load = () => (m ??= require(${JSON.stringify(`node:${name}`)}));`,
    // a built-in that is a function itself (assert) stays callable
    ...(typeof real === 'function'
      ? ['module.exports = function (...args) { return load().apply(this, args); };']
      : []),
    `for (const k of ${JSON.stringify(Object.keys(real))})`,
    '  Object.defineProperty(module.exports, k, { get: () => load()[k], enumerable: true });',
  ].join('\n');
}

const bareName = (id) => (id.startsWith('node:') ? id.slice('node:'.length) : id);

const outdir = join(root, 'dist', 'bundle');
const outfile = join(outdir, 'main.cjs');
// Removing the directory also drops the code caches of the previous bundle.
await rm(outdir, { recursive: true, force: true });
const chevrotainBuild = join(root, 'node_modules', 'chevrotain', 'lib', 'chevrotain.min.mjs');
const main = await build({
  entryPoints: [join(root, 'dist', 'cli', 'main.js')],
  outfile,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: ['koffi'],
  define: { 'import.meta.url': '__tsbuildBundleUrl' },
  banner: {
    js: ["'use strict';", "const __tsbuildBundleUrl = require('node:url').pathToFileURL(__filename).href;"].join('\n'),
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
      // import("node:x") becomes require() of a module of the bundle (a vm.Script's import() has no loader), and a
      // lazy built-in its generated stand-in; any other built-in stays an external require().
      name: 'node-builtins',
      setup(b) {
        b.onResolve({ filter: /^[\w:/]+$/ }, (a) => {
          if (!isBuiltin(a.path)) return undefined;
          const name = bareName(a.path);
          if (a.namespace === 'tsbuild-builtin' || a.namespace === 'tsbuild-lazy')
            return { path: `node:${name}`, external: true };
          if (a.kind === 'dynamic-import') return { path: name, namespace: 'tsbuild-builtin' };
          if (LAZY_BUILTINS.has(name)) return { path: name, namespace: 'tsbuild-lazy' };
          return undefined;
        });
        b.onLoad({ filter: /.*/, namespace: 'tsbuild-builtin' }, (a) => ({
          contents: `module.exports = require(${JSON.stringify(`node:${a.path}`)});`,
          loader: 'js',
        }));
        b.onLoad({ filter: /.*/, namespace: 'tsbuild-lazy' }, (a) => ({ contents: lazyBuiltin(a.path), loader: 'js' }));
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
  // ASCII code: bin/tsbuild reads the bundle as latin1, a one-byte string made without decoding UTF-8 (esbuild's
  // default, checked below)
  charset: 'ascii',
  metafile: true,
  logLevel: 'warning',
});
// Worker threads start from files of their own (store/worker-file.ts finds them beside main.cjs): one ES module each,
// bundled, with only Node's built-ins outside.
await build({
  entryPoints: {
    'hash-worker': join(root, 'dist', 'store', 'hash-worker.js'),
    'file-worker': join(root, 'dist', 'store', 'layer-tar', 'file-worker.js'),
    'context-walk-worker': join(root, 'dist', 'builder', 'context-walk-worker.js'),
  },
  outdir,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
});
// What the plugins guarantee, checked on esbuild's own account of each input: no import() is left to Node's loader,
// and the lazy built-ins are required only by their stand-ins (and by an import() of one, when it runs).
for (const [input, { imports }] of Object.entries(main.metafile.inputs)) {
  const dynamic = imports.filter((i) => i.external && i.kind === 'dynamic-import');
  if (dynamic.length > 0) throw new Error(`bundle: import() left to Node in ${input}: ${dynamic.map((i) => i.path)}`);
  const eager = imports.filter((i) => i.external && LAZY_BUILTINS.has(bareName(i.path)));
  if (eager.length > 0 && !/^tsbuild-(lazy|builtin):/.test(input))
    throw new Error(`bundle: ${input} loads ${eager.map((i) => i.path)} at its top, not through its stand-in`);
}
// esbuild's account of what went in: test/cli/bundle.test.ts checks that main.cjs is its output as written (and
// esbuild's bundle analyzer reads it)
await writeFile(join(outdir, 'meta.json'), JSON.stringify(main.metafile));
// Its code is ASCII (bin/tsbuild reads it as latin1): esbuild escapes strings and identifiers, not regular
// expressions (sources escape theirs) or comments (which may stay UTF-8: read as latin1 they are still comments).
// Checked on the code without its comments, as esbuild prints it.
const code = await readFile(outfile, 'utf8');
const bare = await transform(code, { minifyWhitespace: true, legalComments: 'none', charset: 'ascii', format: 'cjs' });
const high = [...bare.code].find((c) => c.charCodeAt(0) > 0x7f);
if (high !== undefined) {
  // the module: the last of esbuild's `// path` headers before the first line of code holding the character
  const lines = code.split('\n');
  const at = lines.findIndex((l) => l.includes(high) && !/^\s*(\/\/|\/?\*)/.test(l));
  const header = lines.slice(0, at + 1).findLast((l) => /^\/\/ \S+$/.test(l)) ?? `// ${outfile}`;
  throw new Error(
    `bundle: non-ASCII code ${JSON.stringify(high)} in ${header.slice(3)}: escape it in the source (\\u${high.charCodeAt(0).toString(16).padStart(4, '0')})\n  ${lines[at]?.trim()}`,
  );
}

// The command names, for bin/tsbuild's per-command code cache: from the CLI's own help, so that a new command needs
// no second list.
const help = spawnSync(process.execPath, [join(root, 'dist', 'cli', 'main.js'), '--help'], { encoding: 'utf8' });
const commands = help.stdout
  .slice(help.stdout.indexOf('\nCommands:\n'))
  .split('\n')
  .flatMap((line) => /^ {2}([\w|-]+)/.exec(line)?.[1].split('|') ?? []);
if (help.status !== 0 || !commands.includes('build')) throw new Error(`bundle: no commands in \`tsbuild --help\``);
await writeFile(join(outdir, 'commands.json'), JSON.stringify(commands) + '\n');

// The parser build, which keys the cache of parse results (builder/buildfile.ts, parseCached): a hash of the parser's
// compiled code and the chevrotain it runs.
const parserDir = join(root, 'dist', 'parser');
const parserHash = createHash('sha256');
for (const f of (await readdir(parserDir, { recursive: true })).filter((f) => f.endsWith('.js')).sort())
  parserHash.update(`${f}\0`).update(await readFile(join(parserDir, f)));
parserHash.update(await readFile(chevrotainBuild));
await writeFile(join(parserDir, 'build-id'), parserHash.digest('hex'));
