// Parses the whole real-world Dockerfile corpus (../shared/conformance/real-world) in one process after a
// warm-up and prints files/s and MB/s. Run with `npm run bench:parse` (it compiles first).
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const corpus = process.argv[2] ?? resolve(repo, '..', 'shared', 'conformance', 'real-world');
if (!existsSync(corpus)) {
  process.stderr.write(
    `bench:parse: corpus ${corpus} not found (pass a directory of Dockerfiles as the first argument)\n`,
  );
  process.exit(2);
}
const { parseBuildfile } = await (await import(join(repo, 'dist', 'parser', 'index.js'))).loadParser();

function walk(dir, out = []) {
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (!e.endsWith('.md')) out.push(p);
  }
  return out;
}

const files = walk(corpus).map((p) => ({ path: p, text: readFileSync(p, 'utf8') }));
const bytes = files.reduce((n, f) => n + Buffer.byteLength(f.text), 0);
const parseAll = () => {
  let instructions = 0;
  for (const f of files) instructions += parseBuildfile(f.text, f.path).instructions.length;
  return instructions;
};

for (let i = 0; i < 3; i++) parseAll(); // warm-up: JIT, Chevrotain's lookahead caches
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const times = [];
let instructions = 0;
for (let i = 0; i < rounds; i++) {
  const t0 = process.hrtime.bigint();
  instructions = parseAll();
  times.push(Number(process.hrtime.bigint() - t0) / 1e9);
}
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
const mb = bytes / 1e6;
console.log(`corpus: ${files.length} files, ${mb.toFixed(2)} MB, ${instructions} instructions`);
console.log(
  `whole corpus: median ${(median * 1000).toFixed(1)} ms, best ${(times[0] * 1000).toFixed(1)} ms over ${rounds} rounds`,
);
console.log(`${(files.length / median).toFixed(0)} files/s, ${(mb / median).toFixed(2)} MB/s`);
