// A stand-in for node:20-bookworm-slim (Docker Hub is out of reach here): Debian bookworm minbase (debootstrap, as
// the debian-app sample's base) plus this machine's node binary and npm, laid out as the official image has them
// (/usr/local/bin/node, /usr/local/lib/node_modules/npm), pushed to the test registry.
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, realpath, rename, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { DigestingStream } from '../../../oci/digest.js';
import { hostPlatform } from '../../../oci/index.js';
import { MediaType } from '../../../oci/types.js';
import type { Descriptor, Digest } from '../../../oci/index.js';
import { bookwormRootfsTar } from '../../builder/helpers/debian.js';
import { DEFAULT_PATH, initLayout, skopeoCopy, writeImage, writeIndex } from '../../fixtures/images.js';

/** gzips a tar stream into the layout (level 1: the node binary is ~100 MB). */
async function putLayer(
  layout: string,
  command: string,
  args: string[],
): Promise<{ descriptor: Descriptor; diffID: Digest }> {
  const tmp = join(layout, 'blobs', `.layer-${process.pid}`);
  const tar = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((r) => tar.on('close', r));
  const raw = new DigestingStream();
  const gz = new DigestingStream();
  await pipeline(tar.stdout!, raw, createGzip({ level: 1 }), gz, createWriteStream(tmp));
  if ((await exited) !== 0) throw new Error(`${command} ${args.join(' ')} failed`);
  const digest = gz.digest();
  await rename(tmp, join(layout, 'blobs/sha256', digest.slice(7)));
  return { descriptor: { mediaType: MediaType.OciLayerGzip, digest, size: gz.size }, diffID: raw.digest() };
}

/** Pushes the stand-in as HOST/library/node:20-bookworm-slim; returns that reference. */
export async function seedNodeBase(host: string): Promise<string> {
  const rootfsTar = await bookwormRootfsTar();
  const work = await mkdtemp(join(tmpdir(), 'tsbuild-node-base-'));
  try {
    const layout = join(work, 'layout');
    await initLayout(layout);
    // the rootfs tar's `./` is debootstrap's mkdtemp (0700): this layer's `./` makes `/` 0755, or no other user
    // could reach anything
    const tree = join(work, 'node');
    await mkdir(tree, { mode: 0o755 });
    await chmod(tree, 0o755);
    const npmDir = dirname(dirname(await realpath(execFileSync('which', ['npm'], { encoding: 'utf8' }).trim())));
    await mkdir(join(tree, 'usr/local/bin'), { recursive: true });
    await mkdir(join(tree, 'usr/local/lib/node_modules'), { recursive: true });
    await cp(process.execPath, join(tree, 'usr/local/bin/node'));
    await cp(npmDir, join(tree, 'usr/local/lib/node_modules/npm'), { recursive: true });
    await symlink('../lib/node_modules/npm/bin/npm-cli.js', join(tree, 'usr/local/bin/npm'));
    await symlink('../lib/node_modules/npm/bin/npx-cli.js', join(tree, 'usr/local/bin/npx'));
    const layers = [
      await putLayer(layout, 'cat', [rootfsTar]),
      await putLayer(layout, 'tar', [
        '--sort=name',
        '--mtime=@0',
        '--owner=0',
        '--group=0',
        '--numeric-owner',
        '-C',
        tree,
        '-cf',
        '-',
        '.',
      ]),
    ];
    const m = await writeImage(
      layout,
      layers,
      { Env: [DEFAULT_PATH, 'NODE_VERSION=' + process.versions.node], Cmd: ['node'] },
      hostPlatform(),
    );
    await writeIndex(layout, [{ ...m, annotations: { 'org.opencontainers.image.ref.name': 'latest' } } as Descriptor]);
    const dest = `${host}/library/node:20-bookworm-slim`;
    await skopeoCopy(`oci:${layout}:latest`, `docker://${dest}`, ['--dest-tls-verify=false']);
    return dest;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
