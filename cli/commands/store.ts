// Store commands: images, inspect, rmi, prune, save, load, import, store verify. Each loads its implementation
// (store/ops/*) only when it runs; this module prints, the implementations return data.
import { Option, type Command } from 'commander';
import { collect, globalOptions } from '../context.js';
import type { PruneBoundFlags } from '../prune-bounds.js';
import { platformFlag } from '../platform-flag.js';
import type { Store } from '../../store/index.js';

/** The store's maintenance code, loaded when a command needs it (not by `tsbuild --version` or a build). */
const ops = async (): Promise<Awaited<ReturnType<typeof import('../../store/index.js').storeOps>>> =>
  (await import('../../store/index.js')).storeOps();

/** `looking`: the command only reads (images, inspect, rmi, prune): what it resolves does not count as used. */
async function withStore<T>(command: Command, fn: (store: Store) => Promise<T>, looking = false): Promise<T> {
  const { openStoreFor } = await import('../open-store.js');
  const store = await openStoreFor(globalOptions(command), looking ? { recordUse: false } : {});
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

function short(d: string): string {
  return d.replace(/^sha256:/, '').slice(0, 12);
}

function humanSize(n: number | undefined): string {
  if (n === undefined) return '-';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : 1)}${units[i]}`;
}

function table(rows: string[][]): string {
  const w = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(w[c]! + 3))).join('')).join('\n');
}

export function register(program: Command): void {
  program
    .command('images')
    .description('list the images in the store')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, command: Command) => {
      const { listImageRows } = await ops();
      const rows = await withStore(command, listImageRows, true);
      if (opts.json) {
        process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
        return;
      }
      // a multi-platform image (a name on an index) lists its platforms in a column of their own
      const withPlatforms = rows.some((r) => r.platforms);
      const out = [
        ['REPOSITORY', 'TAG', 'IMAGE ID', 'DIGEST', 'CREATED', 'SIZE', ...(withPlatforms ? ['PLATFORMS'] : [])],
      ];
      const { familiarName, parseReference } = await import('../../oci/index.js');
      for (const r of rows) {
        let shown = r.name;
        try {
          shown = familiarName(parseReference(r.name));
        } catch {
          /* keep the stored name */
        }
        const at = shown.lastIndexOf(':');
        const slash = shown.lastIndexOf('/');
        const [repo, tag] = at > slash ? [shown.slice(0, at), shown.slice(at + 1)] : [shown, '<none>'];
        out.push([
          repo,
          tag,
          r.id ? short(r.id) : '-',
          short(r.digest),
          r.created ?? '-',
          humanSize(r.size),
          ...(withPlatforms ? [r.platforms?.join(',') ?? '-'] : []),
        ]);
      }
      process.stdout.write(table(out) + '\n');
      const damaged = rows.filter((r) => r.problem);
      for (const r of damaged) process.stderr.write(`warning: ${r.name}: ${r.problem}\n`);
      if (damaged.length > 0) process.stderr.write('hint: run `tsbuild store verify` to list the damage\n');
    });

  program
    .command('inspect')
    .description('print an image as JSON: digest, config, layers with sizes')
    .argument('<name>', 'image name, digest or id prefix')
    .option('--platform <os/arch[/variant]>', "of a multi-platform image, the platform's image (default: the host's)")
    .option('--attestations', 'add the in-toto statements attached to the image (SBOM, provenance)')
    .action(async (name: string, opts: { platform?: string; attestations?: boolean }, command: Command) => {
      const { inspectImage, readAttestations } = await ops();
      const platform = opts.platform !== undefined ? await platformFlag(opts.platform) : undefined;
      const r = await withStore(
        command,
        async (s) => ({
          ...(await inspectImage(s, name, platform)),
          ...(opts.attestations ? { attestations: await readAttestations(s, name) } : {}),
        }),
        true,
      );
      process.stdout.write(JSON.stringify(r, null, 2) + '\n');
    });

  program
    .command('sbom')
    .description(
      "print the SBOM (SPDX or CycloneDX) attached to an image (built with --sbom) for this machine's platform",
    )
    .argument('<name>', 'image name')
    .action(async (name: string, _opts: unknown, command: Command) => {
      const { inspectImage, readAttestations } = await ops();
      const { CYCLONEDX_PREDICATE, SPDX_PREDICATE } = await import('../../oci/index.js');
      const docs = await withStore(
        command,
        async (s) => {
          const image = await inspectImage(s, name);
          return (await readAttestations(s, name)).filter(
            (a) =>
              a.subject === image.digest &&
              (a.predicateType === SPDX_PREDICATE || a.predicateType === CYCLONEDX_PREDICATE),
          );
        },
        true,
      );
      if (docs.length === 0) {
        const { TsbuildError } = await import('../../oci/index.js');
        throw new TsbuildError('NO_SBOM', `image "${name}" has no SBOM attestation`, {
          hint: 'build it with --sbom (or --attest type=sbom), or pull an image that carries one',
        });
      }
      // the final image's document (scan-stage=true adds one per stage after it)
      const statement = docs[0]!.statement as { predicate?: unknown };
      process.stdout.write(JSON.stringify(statement.predicate, null, 2) + '\n');
    });

  program
    .command('rmi')
    .description('remove an image name (blobs go at the next prune)')
    .argument('<names...>', 'image names, digests or id prefixes')
    .action(async (names: string[], _opts: unknown, command: Command) => {
      const { removeImage } = await ops();
      await withStore(
        command,
        async (s) => {
          for (const n of names) for (const r of await removeImage(s, n)) process.stdout.write(`Untagged: ${r}\n`);
        },
        true,
      );
    });

  program
    .command('prune')
    .description(
      'delete unreferenced blobs, unpacked layers and cache records (never what a running build holds); with bounds, untag least recently used images first',
    )
    .option(
      '--keep-storage <size>',
      'also untag least recently used images until the store takes at most SIZE (10GB, 512MB)',
    )
    .option(
      '--filter <key=value>',
      'only untag images unused for longer than until=DURATION (24h, 30m) (repeatable)',
      collect,
      [],
    )
    .option('--json', 'print what was removed as JSON')
    .action(async (opts: PruneBoundFlags & { json?: boolean }, command: Command) => {
      const bounds = (await import('../prune-bounds.js')).pruneBounds(opts);
      const { pruneStore } = await ops();
      const r = await withStore(command, (s) => pruneStore(s, bounds), true);
      if (opts.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      else {
        for (const i of r.images) process.stdout.write(`Untagged: ${i.name} (last used ${i.lastUsed})\n`);
        process.stdout.write(
          `removed ${r.blobs} blobs, ${r.layers} unpacked layers, ${r.cache} cache records, ${r.lazy} lazy blob records, ${r.temp} temporary files, ${r.git} Git checkouts, ${r.snapshots} copy snapshots, ${r.sbom} SBOM records; reclaimed ${humanSize(r.bytes)}\n`,
        );
      }
    });

  program
    .command('save')
    .description('write an image to a tar archive (OCI layout or docker-archive)')
    .argument('<name>', 'image name, digest or id prefix')
    .requiredOption('-o, --output <file>', 'archive to write')
    .addOption(new Option('--format <format>', 'archive format').choices(['oci', 'docker']).default('oci'))
    .action(async (name: string, opts: { output: string; format: 'oci' | 'docker' }, command: Command) => {
      const { saveImage } = await ops();
      await withStore(command, (s) => saveImage(s, name, opts.output, opts.format));
    });

  program
    .command('load')
    .description('load images from an OCI layout tar or a docker-archive')
    .requiredOption('-i, --input <file>', 'archive to read')
    .action(async (opts: { input: string }, command: Command) => {
      const { loadArchive } = await ops();
      const loaded = await withStore(command, (s) => loadArchive(s, opts.input));
      for (const l of loaded) process.stdout.write(`Loaded image: ${l.name ?? l.digest}\n`);
    });

  program
    .command('import')
    .description('make a single-layer image from a root filesystem tarball (like docker import)')
    .argument('<rootfs>', 'tar, tar.gz of a root filesystem')
    .argument('<name>', 'name for the image')
    .action(async (file: string, name: string, _opts: unknown, command: Command) => {
      const { importRootfs } = await ops();
      const d = await withStore(command, (s) => importRootfs(s, file, name));
      process.stdout.write(`${d}\n`);
    });

  const storeCmd = program.command('store').description('store maintenance');
  storeCmd
    .command('verify')
    .description('re-hash every blob and check every unpacked layer; exit 1 on corruption')
    .action(async (_opts: unknown, command: Command) => {
      const { verifyStore } = await ops();
      const r = await withStore(command, verifyStore, true);
      for (const p of r.problems) process.stdout.write(`corrupt: ${p}\n`);
      const lazy =
        r.lazy > 0 ? ` (${r.lazy} layer blob(s) recorded with their registry source, not downloaded yet)` : '';
      process.stdout.write(
        `checked ${r.blobs} blobs and ${r.layers} unpacked layers${lazy}: ${r.problems.length === 0 ? 'ok' : `${r.problems.length} problem(s)`}\n`,
      );
      if (r.problems.length > 0) process.exitCode = 1;
    });
}
