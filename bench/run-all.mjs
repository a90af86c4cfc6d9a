#!/usr/bin/env node
// `npm run bench`: the build benchmark (bench/build.mjs) first, then every other bench/*.mjs that exists
// (parse, layer, runtime, registry, …), each in its own process.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const others = readdirSync(here)
  .filter((f) => f.endsWith('.mjs') && f !== 'run-all.mjs' && f !== 'build.mjs')
  .sort();
let failed = 0;
for (const f of ['build.mjs', ...others]) {
  process.stdout.write(`\n=== bench/${f} ===\n`);
  const r = spawnSync(process.execPath, [join(here, f), ...process.argv.slice(2)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    process.stdout.write(`bench/${f} exited with ${r.status ?? r.signal}\n`);
  }
}
process.exit(failed > 0 ? 1 : 0);
