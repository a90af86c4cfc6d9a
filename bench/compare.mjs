#!/usr/bin/env node
// A change against the commit before it, in the same run: the layer and registry benches of this checkout and of a
// worktree at REV take turns (ROUNDS each, the order alternating), and each ratio to its reference (tar, skopeo) is
// compared with the same ratio of the other checkout. The builder bench does the same through its `tsbuild-before`
// tool, which this script sets up and runs last. A ratio more than 10 % above its value before is a regression.
//   node bench/compare.mjs [REV]     (default HEAD~1)   env: ROUNDS (default 2), BENCHES=layer,registry,build
import { spawnSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const rev = process.argv[2] ?? 'HEAD~1';
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const benches = (process.env.BENCHES ?? 'layer,registry,build').split(',');
const run = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr}${r.stdout}`);
  return r.stdout;
};

// The other checkout sits beside this one, so that its benches find ../shared as this one's do.
const before = mkdtempSync(join(dirname(repo), 'bench-before-'));
run('git', ['-C', repo, 'worktree', 'add', '--detach', before, rev]);
try {
  symlinkSync(join(repo, 'node_modules'), join(before, 'node_modules'));
  run('npm', ['run', 'build', '--silent'], { cwd: before });
  run('npm', ['run', 'build', '--silent'], { cwd: repo });
  const sha = run('git', ['-C', before, 'rev-parse', '--short', 'HEAD']).trim();
  console.log(`bench/compare: this checkout against ${rev} (${sha}), ${ROUNDS} rounds each, in turn\n`);

  /** The ratio figures of one bench's output, in print order, by line label. */
  const ratios = {
    layer: (out) => [...out.matchAll(/^(\S.*?)\s{2,}.*ratio ([\d.]+)/gm)].map((m) => [m[1].trim(), Number(m[2])]),
    registry: (out) =>
      [...out.matchAll(/^ {2}(\S.*?)\s+\d+\s+[\d.]+\s+[\d.]+\s+([\d.]+)$/gm)].map((m) => [m[1].trim(), Number(m[2])]),
  };
  const scripts = { layer: 'bench/layer.mjs', registry: 'bench/registry.mjs' };
  for (const b of benches.filter((x) => x in scripts)) {
    const got = { now: new Map(), before: new Map() };
    for (let i = 0; i < ROUNDS; i++) {
      const order = i % 2 === 0 ? ['before', 'now'] : ['now', 'before'];
      for (const side of order) {
        const dir = side === 'now' ? repo : before;
        const out = run('node', [join(dir, scripts[b])], {
          cwd: dir,
          env: { ...process.env, ROUNDS: '1', BENCH_N: '1' },
        });
        for (const [label, r] of ratios[b](out)) got[side].set(label, [...(got[side].get(label) ?? []), r]);
      }
    }
    const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor((xs.length - 1) / 2)];
    console.log(`${b}: median ratio to its reference over ${ROUNDS} rounds`);
    console.log('| operation | now | before | now/before |\n|---|---|---|---|');
    for (const [label, xs] of got.now) {
      const was = got.before.get(label);
      if (!was) continue;
      const q = median(xs) / median(was);
      console.log(
        `| ${label} | ${median(xs).toFixed(2)} | ${median(was).toFixed(2)} | ${q.toFixed(2)}${q > 1.1 ? ' REGRESSED' : ''} |`,
      );
    }
    console.log('');
  }
  if (benches.includes('build')) {
    const r = spawnSync(
      'node',
      [join(repo, 'bench/build.mjs'), ...(process.env.WORKLOADS ?? 'hello many-layers').split(' ')],
      {
        stdio: 'inherit',
        env: {
          ...process.env,
          BENCH_TOOLS: process.env.BENCH_TOOLS ?? 'tsbuild,tsbuild-before,docker',
          TSBUILD_BEFORE: join(before, 'bin/tsbuild'),
          BENCH_N: process.env.BENCH_N ?? String(ROUNDS * 2 + 1),
        },
      },
    );
    if (r.status !== 0) process.exitCode = 1;
  }
} finally {
  spawnSync('git', ['-C', repo, 'worktree', 'remove', '--force', before]);
}
