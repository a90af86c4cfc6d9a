#!/usr/bin/env node
// The cost of attestations (issue 19): samples/debian-app built with and without `--sbom --provenance=mode=max`,
// the two taking turns, in four phases: `cold` (--no-cache: apt-get reaches Debian's mirror, the realistic build)
// and `noop` (every step cached: what the SBOM scan and the provenance cost on their own), each kept in the store
// only, and pushed to a local registry (`+push`: the layers are compressed either way, as a push needs them).
// Medians of BENCH_N runs (default 5) and the ratio with / without (target ≤ 1.1×).
//   node bench/attest.mjs          env: BENCH_N, BENCH_BASE (a rootfs tar of Debian bookworm; default: the one the
//                                  tests cache in /tmp, test/builder/helpers/debian.ts)
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(repo, 'bin/tsbuild');
const N = Number(process.env.BENCH_N ?? 5);
const base =
  process.env.BENCH_BASE ??
  readdirSync(tmpdir())
    .filter((f) => /^tsbuild-bookworm-minbase-.*\.tar$/.test(f))
    .sort()
    .map((f) => join(tmpdir(), f))
    .pop();
if (!base) {
  console.error('bench: no Debian rootfs tar: set BENCH_BASE or run test/builder/debian.test.ts once');
  process.exit(2);
}
const root = mkdtempSync(join(tmpdir(), 'tsbuild-bench-attest-'));
// a registry of our own for the push phases (stopped at the end)
const port = 20000 + Math.floor(Math.random() * 20000);
const regDir = mkdtempSync(join(tmpdir(), 'tsbuild-bench-attest-reg-'));
writeFileSync(
  join(regDir, 'config.yml'),
  `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${regDir}/data\nhttp:\n  addr: 127.0.0.1:${port}\n`,
);
const registry = spawn('docker-registry', ['serve', join(regDir, 'config.yml')], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, 1000));
const tsb = (args) => {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(bin, ['--root', root, '--insecure-registry', `127.0.0.1:${port}`, ...args], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`tsbuild ${args.join(' ')} failed:\n${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
try {
  tsb(['import', base, 'debian:bookworm']);
  const ctx = join(repo, 'samples/debian-app');
  const build = (extra) => ['build', '--progress=quiet', '-t', `127.0.0.1:${port}/bench/debian-app`, ...extra, ctx];
  const ATTEST = ['--sbom', '--provenance=mode=max'];
  // warm: the base unpacked, the cache filled, the base layer compressed once (as a pulled base would be already)
  tsb(build(['--push', ...ATTEST]));
  const rows = [];
  for (const [phase, flags] of [
    ['cold', ['--no-cache']],
    ['noop', []],
    ['cold+push', ['--no-cache', '--push']],
    ['noop+push', ['--push']],
  ]) {
    const plain = [];
    const attested = [];
    for (let i = 0; i < N; i++) {
      plain.push(tsb(build(flags)));
      attested.push(tsb(build([...flags, ...ATTEST])));
    }
    const p = median(plain);
    const a = median(attested);
    rows.push(`| ${phase} | ${p.toFixed(2)} s | ${a.toFixed(2)} s | ${(a / p).toFixed(2)}× |`);
  }
  console.log(`debian-app, medians of ${N} (load ${(await import('node:os')).loadavg()[0].toFixed(1)})`);
  console.log('| phase | plain | --sbom --provenance=mode=max | ratio |\n|---|---|---|---|');
  for (const r of rows) console.log(r);
} finally {
  registry.kill();
  rmSync(root, { recursive: true, force: true });
  rmSync(regDir, { recursive: true, force: true });
}
