#!/usr/bin/env node
// Bundles the compiled CLI (dist/cli/main.js, tsc's output) into dist/bundle/: ESM chunks split at the CLI's lazy
// imports, so a command still loads only what it uses, from ~10 files instead of ~130 (every `tsbuild` process
// starts ~15–25 ms sooner; see docs/architecture.md). bin/tsbuild runs the bundle when it is at least as new as
// tsc's last emit, else dist/cli/main.js. koffi stays external (a native addon); chevrotain is imported at run
// time from its own single-file bundle (parser/chevrotain.ts).
import { build } from 'esbuild';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bundle');
await rm(outdir, { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'dist', 'cli', 'main.js')],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outExtension: { '.js': '.mjs' },
  external: ['koffi'],
  // CommonJS dependencies (commander, proper-lockfile) call require() for Node's built-ins.
  banner: { js: "import { createRequire as __tsbuildCreateRequire } from 'node:module'; const require = __tsbuildCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
