// `tsbuild pull`, `push`, `login`, `logout`: thin shells over registry-client/ and the store. Implementations are
// loaded inside the actions so that other commands never load the registry client.
import { Option, type Command } from 'commander';
import { globalOptions, UsageError, type GlobalOptions } from '../context.js';
import type { Store } from '../../store/index.js';
import type { ImageIndex } from '../../oci/index.js';
import type { RegistryOptions } from '../../registry-client/index.js';
import type { TransferProgressMode } from '../progress/transfer.js';

interface TransferFlags {
  progress: TransferProgressMode;
  verbose?: boolean;
}

async function openStore(g: GlobalOptions): Promise<Store> {
  const { openStoreFor } = await import('../open-store.js');
  return openStoreFor(g);
}

async function registryOptions(
  g: GlobalOptions,
  flags: Partial<TransferFlags> & { concurrency?: string },
): Promise<RegistryOptions> {
  const { join } = await import('node:path');
  const concurrency = flags.concurrency !== undefined ? Number(flags.concurrency) : undefined;
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency > 0))
    throw new UsageError('--concurrency must be a positive integer');
  return {
    mirrors: g.registryMirrors,
    insecure: g.insecureRegistries,
    stateDir: join(g.root, 'registry-state'),
    ...(concurrency ? { concurrency } : {}),
    ...(flags.verbose || g.debug ? { verbose: verboseLine(flags.progress === 'json') } : {}),
  };
}

/** `--verbose` diagnostics on stderr: `[registry] …` lines, or `log` events when that stream is JSON. */
function verboseLine(json: boolean): (m: string) => void {
  return (m) =>
    process.stderr.write(
      json
        ? JSON.stringify({ type: 'log', time: Date.now(), level: 'info', message: `[registry] ${m}` }) + '\n'
        : `[registry] ${m}\n`,
    );
}

const progressOption = (): Option =>
  new Option('--progress <mode>', 'progress output: auto (live on a terminal), plain, json, quiet')
    .choices(['auto', 'plain', 'json', 'quiet'])
    .default('auto');

export function register(program: Command): void {
  program
    .command('pull')
    .description('pull an image from a registry into the store')
    .argument('<ref>', 'image reference (busybox, library/busybox:1.36, host:5000/a/b:tag, name@sha256:…)')
    .option('--platform <os/arch[/variant]>', "platform to select from a multi-platform image (default: the host's)")
    .option('--all-platforms', 'pull every platform of a multi-platform image')
    .option('--no-unpack', 'store the layer blobs without unpacking them')
    .option('--concurrency <n>', 'parallel layer downloads (default 4)')
    .option('--verbose', 'print retries, redirects, mirror fallbacks and rate-limit headers')
    .addOption(progressOption())
    .action(
      async (
        refText: string,
        opts: TransferFlags & { platform?: string; allPlatforms?: boolean; unpack: boolean; concurrency?: string },
        command: Command,
      ) => {
        const g = globalOptions(command);
        const { parsePlatform, parseReference } = await import('../../oci/index.js');
        const { loadRegistryClient } = await import('../../registry-client/index.js');
        const { pullImage } = await loadRegistryClient();
        let platform;
        try {
          platform = opts.platform ? parsePlatform(opts.platform) : undefined;
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
        const ref = asUsage(() => parseReference(refText));
        const store = await openStore(g);
        const { createTransferRenderer } = await import('../progress/transfer.js');
        const renderer = await createTransferRenderer(opts.progress);
        try {
          const r = await pullImage(ref, (await import('../../store/index.js')).registryView(store), {
            ...(await registryOptions(g, opts)),
            ...(platform ? { platform } : {}),
            allPlatforms: opts.allPlatforms ?? false,
            unpack: opts.unpack,
            onProgress: (p) => renderer.onProgress(p),
            onRetry: (n) => renderer.onRetry(n),
          });
          renderer.close();
          if (opts.progress === 'json') {
            process.stdout.write(
              JSON.stringify({
                name: r.name,
                digest: r.manifestDescriptor.digest,
                index: r.index?.digest,
                config: r.manifest.config.digest,
              }) + '\n',
            );
          } else {
            process.stdout.write(`Digest: ${r.index?.digest ?? r.manifestDescriptor.digest}\n${r.name}\n`);
          }
        } finally {
          renderer.close();
          await store.close();
        }
      },
    );

  program
    .command('push')
    .description('push an image from the store to a registry (to NAME itself, or to each DEST)')
    .argument('<name>', 'image in the store (name or digest)')
    .argument('[dest...]', 'destination references (default: NAME)')
    .option('--concurrency <n>', 'parallel blob uploads (default 4)')
    .option('--verbose', 'print retries and other registry diagnostics')
    .addOption(progressOption())
    .action(async (name: string, dests: string[], opts: TransferFlags & { concurrency?: string }, command: Command) => {
      const g = globalOptions(command);
      const { parseReference, normalizeName, isAttestation, isIndexMediaType } = await import('../../oci/index.js');
      const { pushImage } = await (await import('../../registry-client/index.js')).loadRegistryClient();
      const store = await openStore(g);
      const { createTransferRenderer } = await import('../progress/transfer.js');
      const renderer = await createTransferRenderer(opts.progress);
      try {
        const record = await store.images.resolve(name);
        if (!record) throw new UsageError(`image "${name}" is not in the store (${g.root})`);
        let asName: string | undefined;
        try {
          asName = normalizeName(name);
        } catch {
          // an image ID or digest
        }
        // given by ID (`build -q`'s output), the image has no name of its own to push to
        if (dests.length === 0 && record.name !== asName)
          throw new UsageError(
            `push ${name}: an image ID needs a destination (tsbuild push ${name} REGISTRY/REPO:TAG)`,
          );
        const targets = (dests.length ? dests : [name]).map((d) => asUsage(() => parseReference(d)));
        let manifest = {
          mediaType: record.manifestMediaType,
          digest: record.manifestDigest,
          size: await store.blobs.size(record.manifestDigest),
        };
        // a name tagging an attested image (an index of the image and its attestation manifest) pushes the whole
        // index: pushing only the image would drop the attestations unnoticed
        const tagged = asName ? (await store.images.list()).find((t) => t.name === asName)?.target : undefined;
        if (tagged && isIndexMediaType(tagged.mediaType)) {
          const index = JSON.parse((await store.blobs.read(tagged.digest)).toString('utf8')) as ImageIndex;
          if (index.manifests.some(isAttestation)) {
            manifest = { mediaType: tagged.mediaType, digest: tagged.digest, size: tagged.size };
            // a build that only stored it named the image as stored: the attestations are retargeted at the
            // manifest the push sends (its layers compressed)
            manifest = await (await (await import('../../builder/index.js')).loadPushForm())(store, manifest);
          }
        }
        const { digest } = await pushImage(
          (await import('../../store/index.js')).registryView(store),
          manifest,
          targets,
          {
            ...(await registryOptions(g, opts)),
            onProgress: (p) => renderer.onProgress(p),
            onRetry: (n) => renderer.onRetry(n),
          },
        );
        renderer.close();
        const { formatReference } = await import('../../oci/index.js');
        for (const t of targets) {
          process.stdout.write(
            opts.progress === 'json'
              ? JSON.stringify({ pushed: formatReference(t), digest }) + '\n'
              : `${formatReference(t)}: digest: ${digest}\n`,
          );
        }
      } finally {
        renderer.close();
        await store.close();
      }
    });

  program
    .command('login')
    .description('log in to a registry: verify the credentials and store them in ~/.docker/config.json')
    .argument('[server]', 'registry host[:port]', 'docker.io')
    .option('-u, --username <user>', 'user name')
    .option('-p, --password <password>', 'password (prefer --password-stdin)')
    .option('--password-stdin', 'read the password from stdin')
    .action(
      async (
        server: string,
        opts: { username?: string; password?: string; passwordStdin?: boolean },
        command: Command,
      ) => {
        const g = globalOptions(command);
        if (!opts.username) throw new UsageError('login needs --username');
        if (opts.password !== undefined && opts.passwordStdin)
          throw new UsageError('--password and --password-stdin are mutually exclusive');
        let password = opts.password;
        if (opts.passwordStdin) {
          const chunks: Buffer[] = [];
          for await (const c of process.stdin) chunks.push(c as Buffer);
          password = Buffer.concat(chunks)
            .toString('utf8')
            .replace(/\r?\n$/, '');
        }
        if (!password) throw new UsageError('login needs a password (--password-stdin)');
        const { login } = await (await import('../../registry-client/index.js')).loadRegistryClient();
        const registry = normalizeServer(server);
        const { configPath } = await login(
          registry,
          { username: opts.username, password },
          await registryOptions(g, {}),
        );
        process.stdout.write(`Login Succeeded (credentials stored in ${configPath})\n`);
      },
    );

  program
    .command('logout')
    .description('remove stored credentials for a registry')
    .argument('[server]', 'registry host[:port]', 'docker.io')
    .action(async (server: string) => {
      const { logout } = await (await import('../../registry-client/index.js')).loadRegistryClient();
      const registry = normalizeServer(server);
      const removed = await logout(registry);
      process.stdout.write(removed ? `Removed login credentials for ${registry}\n` : `Not logged in to ${registry}\n`);
    });
}

/** A malformed reference on the command line is a usage error (exit 2). */
function asUsage<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if ((e as Error).name === 'ImageRefError') throw new UsageError((e as Error).message);
    throw e;
  }
}

/** `https://index.docker.io/v1/`, `registry-1.docker.io` → docker.io; `https://host:5000/` → host:5000. */
function normalizeServer(s: string): string {
  const host = s.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  if (host === 'index.docker.io' || host === 'registry-1.docker.io' || host === '') return 'docker.io';
  return host;
}
