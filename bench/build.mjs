#!/usr/bin/env node
// Build benchmark: the shared workloads (../shared/bench/workloads) built by tsbuild, BuildKit (a dockerd started
// here, as ../shared/bench/setup.sh does) and buildah (--layers --runtime runc) in the same run; phases cold, noop
// and touch; medians of N runs (BENCH_N, default 3) via measure.sh, peak RSS, and ratios tsbuild / other.
//   node bench/build.mjs [WORKLOAD...]     env: BENCH_N, BENCH_TOOLS=tsbuild,docker,buildah, BENCH_SHARED
// A tool `tsbuild@MODE` is tsbuild with `--network MODE` (none, host, default): with `tsbuild` in the same run, the
// summary says what the default network costs per RUN step (`npm run bench:network`). `tsbuild@copy` is tsbuild with
// copy snapshots (issue 16), `buildah-vfs` buildah with `--storage-driver vfs --isolation chroot`: with `tsbuild` the
// summary gives copy/root and copy/buildah-vfs. `tsbuild@rootless` is tsbuild with `--mode rootless`: rootless/root.
// The tool `tsbuild-before` is another checkout's CLI (TSBUILD_BEFORE=path/to/bin/tsbuild, e.g. a worktree of the
// previous commit, built): the two take turns, and the summary compares each one's ratios to BuildKit and buildah,
// so a change is judged against the commit before it in the same run (`bench/compare.sh` sets it up).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { warnIfEmulators } from './lib/binfmt.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..');
const shared = process.env.BENCH_SHARED ?? resolve(repo, '../shared/bench');
const N = Number(process.env.BENCH_N ?? 3);
const workloads =
  process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['hello', 'many-layers', 'big-context', 'multistage'];
const PHASES = {
  hello: ['cold', 'noop', 'touch'],
  'many-layers': ['cold', 'noop'],
  'big-context': ['cold', 'noop', 'touch'],
  multistage: ['cold', 'noop'],
};
let tools = (process.env.BENCH_TOOLS ?? 'tsbuild,docker,buildah').split(',').filter(Boolean);
warnIfEmulators(tools);

if (!existsSync(join(shared, 'measure.sh'))) {
  console.error(`bench: ${shared}/measure.sh not found (set BENCH_SHARED)`);
  process.exit(2);
}
const env = { ...process.env, TSBUILD: join(repo, 'bin/tsbuild') };

// What was already running before setup.sh, so the bench stops only what it started (BENCH_KEEP=1 keeps them).
const benchWork = process.env.BENCH_WORK ?? '/tmp/tsb-bench';
const registryWasUp = spawnSync('curl', ['-sf', '-o', '/dev/null', 'http://localhost:5000/v2/']).status === 0;
const dockerSock = join(benchWork, 'dockerd/docker.sock');
const dockerWasUp =
  spawnSync('/usr/bin/docker', ['info'], {
    env: { ...process.env, DOCKER_HOST: `unix://${dockerSock}` },
    stdio: 'ignore',
  }).status === 0;

// Registry on localhost:5000 with the busybox base; a dockerd for BuildKit when docker.io is installed.
const wantDocker = tools.includes('docker') && existsSync('/usr/sbin/dockerd');
const setup = spawnSync('bash', [join(shared, 'setup.sh')], {
  env: { ...env, START_DOCKERD: wantDocker ? '1' : '0' },
  encoding: 'utf8',
});
if (setup.status !== 0) {
  console.error(`bench: setup.sh failed:\n${setup.stderr}`);
  process.exit(1);
}
// setup.sh links every applet of `busybox --list` to busybox, and Debian's list names busybox itself: the binary
// becomes a self-symlink. Push a correct base over it (same recipe, busybox kept) so every builder gets a working one.
const fix = spawnSync(
  'bash',
  [
    '-c',
    `set -e
root=$(mktemp -d); mkdir -p $root/bin $root/etc $root/tmp $root/root
cp /bin/busybox $root/bin/; for c in $(/bin/busybox --list); do [ "$c" = busybox ] || ln -sf busybox $root/bin/$c; done; chmod 1777 $root/tmp
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > $root/etc/passwd
printf 'root:x:0:\nnogroup:x:65534:\n' > $root/etc/group
ctr=$(buildah from scratch); mnt=$(buildah mount $ctr); cp -a $root/. $mnt/; buildah umount $ctr >/dev/null
buildah config --cmd '["/bin/sh"]' --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin $ctr
buildah commit -q $ctr localhost:5000/library/busybox:latest >/dev/null; buildah rm $ctr >/dev/null
buildah push --tls-verify=false localhost:5000/library/busybox:latest >/dev/null 2>&1; rm -rf $root`,
  ],
  { encoding: 'utf8' },
);
if (fix.status !== 0) {
  console.error(`bench: pushing the busybox base failed:\n${fix.stderr}`);
  process.exit(1);
}
const m = /export DOCKER_HOST=(\S+) DOCKER=(\S+)/.exec(setup.stdout);
if (m) Object.assign(env, { DOCKER_HOST: m[1], DOCKER: m[2] });
else if (tools.includes('docker')) {
  console.log('bench: BuildKit skipped (no /usr/sbin/dockerd: apt-get install -y docker.io)');
  tools = tools.filter((t) => t !== 'docker');
}

if (tools.includes('tsbuild-before') && !existsSync(process.env.TSBUILD_BEFORE ?? '')) {
  console.error("bench: tsbuild-before needs TSBUILD_BEFORE=path to the other checkout's bin/tsbuild");
  process.exit(2);
}

function measure(name, wl, phase, n = N) {
  const before = name === 'tsbuild-before';
  const vfs = name === 'buildah-vfs';
  const [tool, network] = before ? ['tsbuild'] : vfs ? ['buildah'] : name.split('@');
  const toolEnv = before
    ? { ...env, TSBUILD: process.env.TSBUILD_BEFORE }
    : vfs
      ? { ...env, PATH: `${join(here, 'lib/buildah-vfs')}:${env.PATH}` }
      : network === 'copy' || network === 'rootless'
        ? { ...env, TSBUILD: join(here, `lib/tsbuild-${network}.sh`), TSBUILD_BENCH_REAL: env.TSBUILD }
        : network
          ? {
              ...env,
              TSBUILD: join(here, 'lib/tsbuild-network.sh'),
              TSBUILD_BENCH_REAL: env.TSBUILD,
              TSBUILD_BENCH_NETWORK: network,
            }
          : env;
  // Every mode's store goes before a tsbuild cold build, not only the one run.sh removes: on this machine's ext4 (no
  // journal) new inodes skip the recently freed ones, so a build that follows the deletion of two stores (the
  // rootless wrapper's and run.sh's) pays for it and one that follows none does not (docs/performance.md).
  if (tool === 'tsbuild' && phase === 'cold')
    spawnSync('bash', ['-c', `rm -rf "${benchWork}"/tsbuild-root "${benchWork}"/tsbuild-root-*`]);
  const r = spawnSync('bash', [join(shared, 'measure.sh'), tool, wl, phase, String(n)], {
    env: toolEnv,
    encoding: 'utf8',
    cwd: repo,
  });
  const line = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  const mm = /median=([\d.]+) min=([\d.]+) max=([\d.]+) rss=(\d+)MB/.exec(line);
  if (!mm) return { error: line || r.stderr?.trim() || 'failed' };
  return { median: Number(mm[1]), min: Number(mm[2]), max: Number(mm[3]), rss: Number(mm[4]) };
}

/**
 * With a `tsbuild@MODE` tool the builds take turns (one of each per round), so the load of a shared machine falls
 * on every mode alike; their difference is the figure wanted.
 */
function measureInTurn(wl, phase) {
  const runs = Object.fromEntries(tools.map((t) => [t, []]));
  for (let i = 0; i < N; i++) for (const t of tools) runs[t].push(measure(t, wl, phase, 1));
  return Object.fromEntries(
    Object.entries(runs).map(([t, xs]) => {
      const bad = xs.find((x) => x.error);
      if (bad) return [t, bad];
      const s = xs.map((x) => x.median).sort((a, b) => a - b);
      return [
        t,
        { median: s[Math.floor((s.length - 1) / 2)], min: s[0], max: s.at(-1), rss: Math.max(...xs.map((x) => x.rss)) },
      ];
    }),
  );
}

const results = [];
for (const wl of workloads) {
  for (const phase of PHASES[wl] ?? ['cold', 'noop']) {
    const row = { wl, phase };
    const inTurn = tools.some((t) => t.includes('@') || t === 'tsbuild-before') ? measureInTurn(wl, phase) : undefined;
    for (const t of tools) {
      row[t] = inTurn ? inTurn[t] : measure(t, wl, phase);
      const x = row[t];
      console.log(
        `${wl.padEnd(12)} ${phase.padEnd(6)} ${t.padEnd(8)} ${x.error ? `ERROR ${x.error}` : `median ${x.median.toFixed(2)}s (min ${x.min.toFixed(2)}, max ${x.max.toFixed(2)}) rss ${x.rss} MB`}`,
      );
    }
    results.push(row);
  }
}

const fmt = (x) => (x && !x.error ? x.median.toFixed(2) : '—');
const ratio = (a, b) => (a && b && !a.error && !b.error && b.median > 0 ? `${(a.median / b.median).toFixed(2)}×` : '—');
warnIfEmulators(tools);
console.log(`\nmedians of ${N} (s); ratio = tsbuild / other (lower is better)\n`);
console.log('| workload | phase | ' + tools.join(' | ') + ' | tsbuild/BuildKit | tsbuild/buildah | tsbuild peak RSS |');
console.log('|---|---|' + tools.map(() => '---|').join('') + '---|---|---|');
for (const r of results) {
  console.log(
    `| ${r.wl} | ${r.phase} | ${tools.map((t) => fmt(r[t])).join(' | ')} | ${ratio(r.tsbuild, r.docker)} | ${ratio(r.tsbuild, r.buildah)} | ${r.tsbuild && !r.tsbuild.error ? `${r.tsbuild.rss} MB` : '—'} |`,
  );
}

// Each ratio of this checkout against the same ratio of the one before (same run): within 10 % is no regression.
if (tools.includes('tsbuild-before')) {
  console.log('\n| workload | phase | vs | ratio now | ratio before | now/before |');
  console.log('|---|---|---|---|---|---|');
  for (const r of results) {
    for (const [peer, label] of [
      ['docker', 'BuildKit'],
      ['buildah', 'buildah'],
    ]) {
      const now = r.tsbuild;
      const was = r['tsbuild-before'];
      const p = r[peer];
      if (!now || !was || !p || now.error || was.error || p.error) continue;
      const a = now.median / p.median;
      const b = was.median / p.median;
      console.log(
        `| ${r.wl} | ${r.phase} | ${label} | ${a.toFixed(2)}× | ${b.toFixed(2)}× | ${(a / b).toFixed(2)}${a / b > 1.1 ? ' REGRESSED' : ''} |`,
      );
    }
  }
}

// Rootless (issue 16) against the root build, same run.
if (tools.includes('tsbuild@rootless')) {
  console.log('\n| workload | phase | rootless/root |');
  console.log('|---|---|---|');
  for (const r of results) console.log(`| ${r.wl} | ${r.phase} | ${ratio(r['tsbuild@rootless'], r.tsbuild)} |`);
}

// Copy snapshots (issue 16) against the root build and against Buildah's own overlay-free build, same run.
if (tools.includes('tsbuild@copy')) {
  console.log('\n| workload | phase | copy/root | copy/buildah-vfs |');
  console.log('|---|---|---|---|');
  for (const r of results) {
    console.log(
      `| ${r.wl} | ${r.phase} | ${ratio(r['tsbuild@copy'], r.tsbuild)} | ${ratio(r['tsbuild@copy'], r['buildah-vfs'])} |`,
    );
  }
}

// What the default network costs per RUN step: tsbuild (default network) against tsbuild@none, same run.
const runSteps = (wl) =>
  readFileSync(join(shared, 'workloads', wl, 'Buildfile'), 'utf8')
    .split('\n')
    .filter((l) => /^RUN\s/.test(l)).length;
for (const r of results) {
  const d = r.tsbuild;
  const none = r['tsbuild@none'];
  const steps = runSteps(r.wl);
  if (!d || !none || d.error || none.error || r.phase !== 'cold' || steps === 0) continue;
  const perStep = ((d.median - none.median) / steps) * 1000;
  console.log(
    `\ndefault network vs --network none, ${r.wl} ${r.phase} (${steps} RUN): ${d.median.toFixed(2)} s vs ${none.median.toFixed(2)} s = ${perStep >= 0 ? '+' : ''}${perStep.toFixed(1)} ms per RUN step`,
  );
}

if (process.env.BENCH_KEEP !== '1') {
  if (!dockerWasUp && existsSync(join(benchWork, 'dockerd/pid'))) {
    const pid = Number(readFileSync(join(benchWork, 'dockerd/pid'), 'utf8'));
    if (pid > 0) spawnSync('kill', [String(pid)]);
  }
  if (!registryWasUp) {
    const ss = spawnSync('ss', ['-ltnpH', 'sport = :5000'], { encoding: 'utf8' }).stdout ?? '';
    const pid = /pid=(\d+)/.exec(ss)?.[1];
    if (pid) spawnSync('kill', [pid]);
  }
}
