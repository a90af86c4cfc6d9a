#!/usr/bin/env node
// Git-context benchmark (issue 20): a generated mid-size repository (BENCH_GIT_FILES files, default 3000, in 60
// directories; BENCH_GIT_COMMITS commits, default 300, ten files changed by each) served by `git http-backend`
// behind a loopback node server, built as `tsbuild build URL#main` and `docker build URL#main` (BuildKit in a
// dockerd started by ../shared/bench/setup.sh) in the same run, the tools taking turns. Phases: cold (empty
// tsbuild store / `docker builder prune -af`: ls-remote, fetch, COPY) and same-commit (the same commit again: no
// fetch). Medians of BENCH_N runs (default 3), seconds, and the ratio tsbuild / docker.
//   node bench/git-context.mjs   env: BENCH_N, BENCH_GIT_FILES, BENCH_GIT_COMMITS, BENCH_SHARED, BENCH_TOOLS,
//                                BENCH_DOCKER_WORK (the bench's own dockerd state, default /tmp/tsb-bench-git)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { warnIfEmulators } from './lib/binfmt.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..');
const shared = process.env.BENCH_SHARED ?? resolve(repo, '../shared/bench');
const N = Number(process.env.BENCH_N ?? 3);
const FILES = Number(process.env.BENCH_GIT_FILES ?? 3000);
const COMMITS = Number(process.env.BENCH_GIT_COMMITS ?? 300);
let tools = (process.env.BENCH_TOOLS ?? 'tsbuild,docker').split(',').filter(Boolean);
warnIfEmulators(tools);
const tsbuild = join(repo, 'bin/tsbuild');
const work = mkdtempSync(join(tmpdir(), 'tsb-bench-git-'));

/** The repository, written with one `git fast-import` stream (a few seconds for thousands of files). */
function makeRepo(dir) {
  spawnSync('git', ['init', '-q', '--bare', dir]);
  const parts = [];
  const blob = (text) => `data ${Buffer.byteLength(text)}\n${text}\n`;
  const fileText = (i, c) => `file ${i} of commit ${c}\n${'lorem ipsum dolor sit amet '.repeat(20 + (i % 40))}\n`;
  for (let c = 0; c < COMMITS; c++) {
    parts.push(`commit refs/heads/main\ncommitter b <b@example.invalid> ${1767225600 + c * 60} +0000\n`);
    parts.push(blob(`commit ${c}`));
    if (c === 0) {
      parts.push(`M 100644 inline Dockerfile\n${blob('FROM scratch\nCOPY . /src/\n')}`);
      for (let i = 0; i < FILES; i++) parts.push(`M 100644 inline d${i % 60}/f${i}.txt\n${blob(fileText(i, 0))}`);
    } else {
      for (let k = 0; k < 10; k++) {
        const i = (c * 37 + k * 101) % FILES;
        parts.push(`M 100644 inline d${i % 60}/f${i}.txt\n${blob(fileText(i, c))}`);
      }
    }
    parts.push('\n');
  }
  const r = spawnSync('git', ['fast-import', '--quiet'], { cwd: dir, input: parts.join(''), maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`git fast-import failed: ${r.stderr}`);
}

/** `git http-backend` behind a loopback HTTP server (smart HTTP, as a CI's Git host speaks it). */
function serve(root) {
  const read = (s) =>
    new Promise((res, rej) => {
      const chunks = [];
      s.on('data', (c) => chunks.push(c));
      s.on('end', () => res(Buffer.concat(chunks)));
      s.on('error', rej);
    });
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const body = await read(req);
    const cgi = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        REQUEST_METHOD: req.method,
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        CONTENT_LENGTH: String(body.length),
        REMOTE_ADDR: '127.0.0.1',
        ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: req.headers['content-encoding'] } : {}),
        ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
      },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    // a backend that answers without reading the whole body (an error reply) closes its stdin early
    cgi.stdin.on('error', () => undefined);
    cgi.stdin.end(body);
    const out = await read(cgi.stdout);
    const split = out.indexOf('\r\n\r\n');
    let status = 200;
    const headers = {};
    for (const line of out.subarray(0, split).toString('latin1').split('\r\n')) {
      const i = line.indexOf(':');
      const k = line.slice(0, i).trim();
      if (k.toLowerCase() === 'status') status = parseInt(line.slice(i + 1), 10);
      else headers[k] = line.slice(i + 1).trim();
    }
    res.writeHead(status, headers);
    res.end(out.subarray(split + 4));
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

function run(cmd, args, env = process.env) {
  return new Promise((res) => {
    const t0 = process.hrtime.bigint();
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d.toString()));
    p.on('close', (code) => res({ code, seconds: Number(process.hrtime.bigint() - t0) / 1e9, err }));
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

const bare = join(work, 'repos', 'mid.git');
mkdirSync(dirname(bare), { recursive: true });
makeRepo(bare);
const server = await serve(join(work, 'repos'));
const url = `http://127.0.0.1:${server.address().port}/mid.git#main`;

// A dockerd of this bench's own (BENCH_DOCKER_WORK): the bench prunes its build cache before every cold build,
// which must not touch another bench's daemon (nor theirs this one's). Stopped at the end if this run started it.
const dockerWork = process.env.BENCH_DOCKER_WORK ?? '/tmp/tsb-bench-git';
const dockerSock = join(dockerWork, 'dockerd/docker.sock');
const dockerWasUp =
  spawnSync('/usr/bin/docker', ['info'], {
    env: { ...process.env, DOCKER_HOST: `unix://${dockerSock}` },
    stdio: 'ignore',
  }).status === 0;
let dockerEnv;
if (tools.includes('docker')) {
  const setup = existsSync(join(shared, 'setup.sh'))
    ? spawnSync('bash', [join(shared, 'setup.sh')], {
        env: { ...process.env, START_DOCKERD: '1', BENCH_WORK: dockerWork },
        encoding: 'utf8',
      })
    : { status: 1, stdout: '', stderr: 'no setup.sh' };
  const m = /export DOCKER_HOST=(\S+) DOCKER=(\S+)/.exec(setup.stdout ?? '');
  if (setup.status === 0 && m) dockerEnv = { ...process.env, DOCKER_HOST: m[1], DOCKER_BUILDKIT: '1' };
  else {
    console.log(`bench: BuildKit skipped (${(setup.stderr ?? '').trim().split('\n').pop() || 'no dockerd'})`);
    tools = tools.filter((t) => t !== 'docker');
  }
}

const results = { cold: {}, 'same-commit': {} };
for (const t of tools) for (const ph of Object.keys(results)) results[ph][t] = [];
const root = join(work, 'tsbuild-root');
let dockerRetries = 0;
for (let i = 0; i < N; i++) {
  for (const t of tools) {
    let cold;
    let again;
    if (t === 'tsbuild') {
      rmSync(root, { recursive: true, force: true });
      cold = await run(tsbuild, ['--root', root, 'build', '-q', url]);
      again = await run(tsbuild, ['--root', root, 'build', '-q', url]);
    } else {
      // dockerd 20.10's BuildKit has failed the COPY of a fresh git snapshot ("failed to stat …: no such file or
      // directory") on a shared daemon: such a run is counted and made again, never timed
      for (let attempt = 0; attempt < 3; attempt++) {
        spawnSync('/usr/bin/docker', ['builder', 'prune', '-af'], { env: dockerEnv, stdio: 'ignore' });
        cold = await run('/usr/bin/docker', ['build', '-q', url], dockerEnv);
        if (cold.code === 0 || !/no such file or directory/.test(cold.err)) break;
        dockerRetries++;
      }
      again = await run('/usr/bin/docker', ['build', '-q', url], dockerEnv);
    }
    for (const [ph, r] of [
      ['cold', cold],
      ['same-commit', again],
    ]) {
      if (r.code !== 0) {
        console.error(`bench: ${t} ${ph} failed:\n${r.err}`);
        process.exit(1);
      }
      results[ph][t].push(r.seconds);
    }
  }
}
server.close();

console.log(`git context: ${FILES} files, ${COMMITS} commits, ${url}; medians of ${N}, seconds`);
console.log(`| phase | ${tools.join(' | ')}${tools.includes('docker') ? ' | tsbuild / docker' : ''} |`);
for (const [ph, byTool] of Object.entries(results)) {
  const m = Object.fromEntries(tools.map((t) => [t, median(byTool[t])]));
  const ratio = tools.includes('docker') && tools.includes('tsbuild') ? ` | ${(m.tsbuild / m.docker).toFixed(2)}x` : '';
  console.log(`| ${ph} | ${tools.map((t) => m[t].toFixed(2)).join(' | ')}${ratio} |`);
}
if (dockerRetries > 0)
  console.log(`docker: ${dockerRetries} cold build(s) failed with "no such file or directory" and were run again`);
if (dockerEnv && !dockerWasUp && !process.env.BENCH_KEEP) {
  const pid = Number(readFileSync(join(dockerWork, 'dockerd/pid'), 'utf8'));
  if (pid > 0) process.kill(pid);
}
writeFileSync(join(work, 'results.json'), JSON.stringify(results, null, 2));
if (!process.env.BENCH_KEEP) rmSync(work, { recursive: true, force: true });
