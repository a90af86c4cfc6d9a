// A Debian bookworm base image for the debian-app sample: `debootstrap --variant=minbase` from this machine's
// Debian mirror, made once per day and cached in /tmp (it takes minutes), then pushed to the test registry as
// library/debian:bookworm. An unreachable mirror fails loudly: this is the realistic CI workload.
import { execFile, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGzip } from 'node:zlib';
import { DigestingStream } from '../../../oci/digest.js';
import { MediaType } from '../../../oci/types.js';
import { hostPlatform } from '../../../oci/index.js';
import { DEFAULT_PATH, initLayout, skopeoCopy, writeImage, writeIndex } from '../../fixtures/images.js';

const run = promisify(execFile);

/** The Debian mirror apt uses here (deb.debian.org unless configured otherwise). */
export async function debianMirror(): Promise<string> {
  for (const f of ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list']) {
    const text = await readFile(f, 'utf8').catch(() => '');
    const m =
      /^URIs:\s*(\S+\/debian)\s*$/m.exec(text) ?? /^deb\s+(?:\[[^\]]*\]\s+)?(\S+\/debian)\s+bookworm/m.exec(text);
    if (m) return m[1]!;
  }
  return 'http://deb.debian.org/debian';
}

/** A tar of a bookworm minbase rootfs (owners kept), cached by date. */
export async function bookwormRootfsTar(): Promise<string> {
  const day = new Date().toISOString().slice(0, 10);
  const file = join(tmpdir(), `tsbuild-bookworm-minbase-${day}.tar`);
  if (
    await stat(file).then(
      () => true,
      () => false,
    )
  )
    return file;
  const mirror = await debianMirror();
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-debootstrap-'));
  try {
    try {
      await run('debootstrap', ['--variant=minbase', 'bookworm', dir, mirror], {
        maxBuffer: 64 << 20,
        timeout: 1_200_000,
      });
    } catch (e) {
      const err = e as { stderr?: string; stdout?: string; message: string };
      throw new Error(
        `debootstrap of Debian bookworm from ${mirror} failed (is the Debian mirror reachable from this machine?):\n${(err.stderr || err.stdout || err.message).slice(-2000)}`,
      );
    }
    await rm(join(dir, 'var/cache/apt/archives'), { recursive: true, force: true });
    await mkdir(join(dir, 'var/cache/apt/archives/partial'), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await run('tar', ['--sort=name', '--numeric-owner', '--xattrs', '-C', dir, '-cf', tmp, '.'], {
      maxBuffer: 16 << 20,
    });
    await rename(tmp, file);
    return file;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Pushes the bookworm base to `host` as library/debian:bookworm; returns the reference. */
export async function seedDebian(host: string): Promise<string> {
  const tarFile = await bookwormRootfsTar();
  const layout = await mkdtemp(join(tmpdir(), 'tsbuild-debian-layout-'));
  try {
    await initLayout(layout);
    const tmp = join(layout, 'blobs', '.layer');
    const raw = new DigestingStream();
    const gz = new DigestingStream();
    const cat = spawn('cat', [tarFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    await pipeline(cat.stdout!, raw, createGzip({ level: 1 }), gz, createWriteStream(tmp));
    const digest = gz.digest();
    await rename(tmp, join(layout, 'blobs/sha256', digest.slice(7)));
    const layer = { descriptor: { mediaType: MediaType.OciLayerGzip, digest, size: gz.size }, diffID: raw.digest() };
    const m = await writeImage(layout, [layer], { Env: [DEFAULT_PATH], Cmd: ['bash'] }, hostPlatform());
    await writeIndex(layout, [
      {
        mediaType: m.mediaType,
        digest: m.digest,
        size: m.size,
        annotations: { 'org.opencontainers.image.ref.name': 'latest' },
      },
    ]);
    const dest = `${host}/library/debian:bookworm`;
    await skopeoCopy(`oci:${layout}:latest`, `docker://${dest}`, ['--dest-tls-verify=false']);
    return dest;
  } finally {
    await rm(layout, { recursive: true, force: true });
  }
}
