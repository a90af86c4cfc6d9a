#!/usr/bin/env node
// Scale benchmark (issue 18): `COPY . /ctx/` of a generated monorepo-sized context, built by tsbuild and by BuildKit
// (the dockerd ../shared/bench/setup.sh starts) in the same run, cold and no-op, with each one's peak RSS and the
// machine's floor beside them: `tar -cf` of the tree (cold: read everything once, write it once) and a bare stat
// walk, `find -printf` (no-op: look at every file once). BuildKit's memory is the daemon's, not measured here.
//   node bench/scale.mjs [WORKLOAD...]     WORKLOAD: ctx-100k (default), ctx-1m
//   env: BENCH_N (default 3), BENCH_TOOLS=tsbuild,docker, BENCH_WORK (default /var/tmp/tsb-scale), BENCH_SHARED
// The contexts are generated once into BENCH_WORK (not committed) and kept for the next run.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { warnIfEmulators } from './lib/binfmt.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..');
const shared = process.env.BENCH_SHARED ?? resolve(repo, '../shared/bench');
const N = Number(process.env.BENCH_N ?? 3);
const work = process.env.BENCH_WORK ?? '/var/tmp/tsb-scale';
const tools = (process.env.BENCH_TOOLS ?? 'tsbuild,docker').split(',').filter(Boolean);
warnIfEmulators(tools);
const TSBUILD = join(repo, 'bin/tsbuild');
const REG = 'localhost:5000';
const BASE = `${REG}/library/busybox:latest`;

/** Generated contexts: directories × files per directory × bytes per file; targets from issue 18. */
const WORKLOADS = {
  'ctx-100k': { dirs: 500, files: 200, bytes: 3900, rss: 250, cold: undefined, noop: undefined },
  'ctx-1m': { dirs: 1000, files: 1000, bytes: 100, rss: 400, cold: 0.5, noop: 0.3 },
};
const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['ctx-100k'];
for (const n of names)
  if (!WORKLOADS[n]) {
    console.error(`bench: unknown workload ${n} (${Object.keys(WORKLOADS).join(', ')})`);
    process.exit(2);
  }

const sh = (cmd, env = process.env) => spawnSync('bash', ['-c', cmd], { encoding: 'utf8', env });
const must = (r, what) => {
  if (r.status !== 0) {
    console.error(`bench: ${what} failed:\n${r.stderr}`);
    process.exit(1);
  }
  return r;
};

// The registry (with the busybox base) and BuildKit's dockerd, as the other build benches have them.
const env = { ...process.env };
const setup = must(
  spawnSync('bash', [join(shared, 'setup.sh')], {
    env: { ...env, START_DOCKERD: tools.includes('docker') ? '1' : '0' },
    encoding: 'utf8',
  }),
  'setup.sh',
);
const m = /export DOCKER_HOST=(\S+) DOCKER=(\S+)/.exec(setup.stdout);
if (m) Object.assign(env, { DOCKER_HOST: m[1], DOCKER: m[2] });
const DOCKER = env.DOCKER ?? '/usr/bin/docker';

/** Writes the context once; a marker file says it is complete. */
function generate(name) {
  const w = WORKLOADS[name];
  const dir = join(work, name);
  const ctx = join(dir, 'ctx');
  if (existsSync(join(dir, 'complete'))) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(ctx, { recursive: true });
  console.log(`generating ${name}: ${w.dirs} × ${w.files} files of ${w.bytes} bytes in ${ctx}`);
  for (let d = 0; d < w.dirs; d++) {
    const sub = join(ctx, `d${String(d).padStart(4, '0')}`);
    mkdirSync(sub);
    for (let f = 0; f < w.files; f++) {
      const line = `${d}/${f}\n`;
      writeFileSync(
        join(sub, `f${String(f).padStart(4, '0')}.txt`),
        line.repeat(Math.ceil(w.bytes / line.length)).slice(0, w.bytes),
      );
    }
  }
  writeFileSync(join(dir, 'Buildfile'), `FROM ${BASE}\nCOPY . /ctx/\n`);
  writeFileSync(join(dir, 'complete'), '');
  return dir;
}

/** Seconds and peak RSS (MB) of one command. */
function timed(cmd) {
  const r = sh(`/usr/bin/time -f '%e %M' bash -c ${JSON.stringify(cmd)} 2>&1 >/dev/null | tail -1`, env);
  const [s, kb] = r.stdout.trim().split(/\s+/).map(Number);
  if (r.status !== 0 || !Number.isFinite(s)) return { error: r.stdout.trim() || r.stderr.trim() };
  return { s, rss: Math.round(kb / 1024) };
}

function build(tool, dir) {
  const f = join(dir, 'Buildfile');
  const ctx = join(dir, 'ctx');
  if (tool === 'tsbuild')
    return timed(`${TSBUILD} --root ${dir}/root build --insecure-registry ${REG} -f ${f} -t scale:1 ${ctx}`);
  return timed(`DOCKER_BUILDKIT=1 ${DOCKER} build --network host -f ${f} -t scale:1 ${ctx}`);
}

function prepCold(tool, dir) {
  if (tool === 'tsbuild')
    must(
      sh(`rm -rf ${dir}/root && ${TSBUILD} --root ${dir}/root pull --insecure-registry ${REG} ${BASE}`, env),
      'pull',
    );
  else
    must(
      sh(
        `${DOCKER} rmi -f scale:1 >/dev/null 2>&1; ${DOCKER} builder prune -af >/dev/null && ${DOCKER} pull -q ${BASE}`,
        env,
      ),
      'docker prep',
    );
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const rows = [];
for (const name of names) {
  const dir = generate(name);
  const ctx = join(dir, 'ctx');
  const floorCold = [];
  const floorNoop = [];
  const runs = Object.fromEntries(
    tools.flatMap((t) => [
      [`${t} cold`, []],
      [`${t} noop`, []],
    ]),
  );
  for (let i = 0; i < N; i++) {
    sh('sync');
    floorCold.push(timed(`tar -cf ${dir}/floor.tar -C ${ctx} . && rm -f ${dir}/floor.tar`).s);
    floorNoop.push(timed(`find ${ctx} -printf '%p %s %T@ %i\\n' >/dev/null`).s);
    for (const t of tools) {
      prepCold(t, dir);
      runs[`${t} cold`].push(build(t, dir));
      runs[`${t} noop`].push(build(t, dir));
    }
  }
  for (const phase of ['cold', 'noop']) {
    const row = { name, phase, floor: median(phase === 'cold' ? floorCold : floorNoop) };
    for (const t of tools) {
      const xs = runs[`${t} ${phase}`];
      const bad = xs.find((x) => x.error);
      row[t] = bad ? bad : { s: median(xs.map((x) => x.s)), rss: Math.max(...xs.map((x) => x.rss)) };
      console.log(
        `${name} ${phase} ${t}: ${bad ? `ERROR ${bad.error}` : `${row[t].s.toFixed(2)} s, peak RSS ${row[t].rss} MB`}`,
      );
    }
    rows.push(row);
  }
  if (process.env.BENCH_KEEP_ROOT !== '1') rmSync(join(dir, 'root'), { recursive: true, force: true });
}

const fmt = (x) => (x && !x.error ? x.s.toFixed(2) : '—');
console.log(
  `\nmedians of ${N} (s); peak RSS is the largest of the runs; floor = tar -cf (cold) / find -printf (noop)\n`,
);
console.log(
  '| workload | phase | tsbuild | RSS | target RSS | BuildKit | tsbuild/BuildKit | target | floor | tsbuild/floor |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const w = WORKLOADS[r.name];
  const t = r.tsbuild;
  const d = r.docker;
  const ok = (x) => x && !x.error;
  const target = w[r.phase];
  console.log(
    `| ${r.name} | ${r.phase} | ${fmt(t)} | ${ok(t) ? `${t.rss} MB` : '—'} | ≤ ${w.rss} MB${ok(t) && t.rss > w.rss ? ' MISSED' : ''} | ${fmt(d)} | ${ok(t) && ok(d) ? `${(t.s / d.s).toFixed(2)}×` : '—'} | ${target ? `≤ ${target}×${ok(t) && ok(d) && t.s / d.s > target ? ' MISSED' : ''}` : '—'} | ${r.floor.toFixed(2)} | ${ok(t) ? `${(t.s / r.floor).toFixed(1)}×` : '—'} |`,
  );
}
