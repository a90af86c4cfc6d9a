#!/usr/bin/env node
// Where a build's time goes: runs `tsbuild build --progress=json` on the shared workloads (cold: a fresh store with
// the base image pulled; noop: the same build again) and splits each run's wall time by the events' timestamps:
// start-up (process start to build-start: Node, the bundle, reading, parsing and planning), the steps by kind (their
// step-start..step-end spans), and the end (last step to exit: export, the image record, exit). Medians of
// BENCH_N runs (default 3). Needs the registry of ../shared/bench/setup.sh on localhost:5000.
//   node bench/phases.mjs [workload...]     (default: hello many-layers big-context)
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, mkdtempSync, copyFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const TSBUILD = join(here, '../bin/tsbuild');
const shared = process.env.BENCH_SHARED ?? resolve(here, '../../shared/bench');
const N = Number(process.env.BENCH_N ?? 3);
const REG = 'localhost:5000';
const workloads = process.argv.slice(2).length ? process.argv.slice(2) : ['hello', 'many-layers', 'big-context'];
const work = mkdtempSync(join(process.env.BENCH_WORK ?? '/var/tmp', 'bench-phases-'));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

function run(root, ctx) {
  const t0 = Date.now();
  const r = spawnSync(
    TSBUILD,
    [
      '--root',
      root,
      'build',
      '--progress=json',
      '--insecure-registry',
      REG,
      '-f',
      join(ctx, 'Buildfile'),
      '-t',
      'bench/phases:1',
      ctx,
    ],
    { encoding: 'utf8', maxBuffer: 1 << 28 },
  );
  const t1 = Date.now();
  if (r.status !== 0) throw new Error(`build failed: ${r.stderr}`);
  // --progress=json writes the events to stderr
  const events = r.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
  const phases = { 'start-up (node, bundle, parse, plan)': 0 };
  const start = events.find((e) => e.type === 'build-start')?.time ?? t0;
  phases['start-up (node, bundle, parse, plan)'] = start - t0;
  const open = new Map();
  let last = start;
  for (const e of events) {
    if (e.type === 'step-start') open.set(`${e.step.stage}/${e.step.index}`, e.time);
    if (e.type === 'step-end') {
      const k = `${e.step.stage}/${e.step.index}`;
      const kind = `${e.step.instruction.split(/\s/)[0].toUpperCase()}${e.cached ? ' (cached)' : ''}`;
      phases[kind] = (phases[kind] ?? 0) + (e.time - open.get(k));
      last = Math.max(last, e.time);
    }
  }
  phases['end (export, record, exit)'] = t1 - last;
  phases.total = t1 - t0;
  return phases;
}

try {
  for (const wl of workloads) {
    const ctx = join(work, wl);
    mkdirSync(ctx, { recursive: true });
    copyFileSync(join(shared, 'workloads', wl, 'Buildfile'), join(ctx, 'Buildfile'));
    execFileSync(join(shared, 'workloads', wl, 'gen.sh'), { cwd: ctx, stdio: 'ignore' });
    const rows = { cold: [], noop: [] };
    for (let i = 0; i < N; i++) {
      const root = join(work, `root-${wl}-${i}`);
      execFileSync(TSBUILD, [
        '--root',
        root,
        'pull',
        '--progress=quiet',
        '--insecure-registry',
        REG,
        `${REG}/library/busybox:latest`,
      ]);
      rows.cold.push(run(root, ctx));
      rows.noop.push(run(root, ctx));
      rmSync(root, { recursive: true, force: true });
    }
    for (const kind of ['cold', 'noop']) {
      const keys = [...new Set(rows[kind].flatMap((r) => Object.keys(r)))];
      console.log(`\n${wl} ${kind} (median of ${N}, ms)\n| phase | ms |\n|---|---|`);
      for (const k of keys) console.log(`| ${k} | ${median(rows[kind].map((r) => r[k] ?? 0))} |`);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
