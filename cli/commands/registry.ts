// `tsbuild pull`, `push`, `login`, `logout`: thin shells over registry-client/ and the store. Implementations are
// loaded inside the actions so that other commands never load the registry client.
import { Option, type Command } from 'commander';
import { globalOptions, UsageError, type GlobalOptions } from '../context.js';
import type { Store } from '../../store/index.js';
import type { RegistryOptions, TransferProgress } from '../../registry-client/index.js';
import type { RetryNotice } from '../../registry-client/index.js';

type ProgressMode = 'auto' | 'plain' | 'json' | 'quiet';

interface TransferFlags {
  progress: ProgressMode;
  verbose?: boolean;
}

/** Renders transfer events: one line per blob state change with bytes/s (plain), live lines on a TTY, or JSON. */
export interface TransferRenderer {
  onProgress(p: TransferProgress): void;
  /** A request to the registry is retried (it is down or restarting): said at once, whatever the mode. */
  onRetry(n: RetryNotice): void;
  close(): void;
}

export async function createTransferRenderer(
  mode: ProgressMode,
  out: NodeJS.WriteStream = process.stderr,
): Promise<TransferRenderer> {
  const { formatBytes, shortDigest, formatDuration } = await import('../progress/format.js');
  const { describeRetry } = await import('../../registry-client/index.js');
  if (mode === 'quiet') return { onProgress: () => undefined, onRetry: () => undefined, close: () => undefined };
  if (mode === 'json') {
    const lastPct = new Map<string, number>();
    return {
      onProgress(p) {
        if (p.action === 'download' || p.action === 'upload') {
          const pct = p.size > 0 ? Math.floor((p.transferred / p.size) * 100) : 0;
          const key = `${p.repository ?? ''} ${p.digest}`;
          if (p.transferred !== 0 && lastPct.get(key) === pct) return;
          lastPct.set(key, pct);
        }
        out.write(JSON.stringify({ time: new Date().toISOString(), ...p }) + '\n');
      },
      onRetry(n) {
        out.write(JSON.stringify({ time: new Date().toISOString(), kind: 'request', action: 'retry', ...n }) + '\n');
      },
      close: () => undefined,
    };
  }
  const tty = mode === 'auto' && out.isTTY === true && process.env.TERM !== 'dumb';
  interface Row {
    digest: string;
    size: number;
    transferred: number;
    start: number;
    state: string;
    line?: string;
  }
  const rows = new Map<string, Row>();
  const order: string[] = [];
  let drawn = 0;
  const rate = (r: Row): string => {
    const s = (Date.now() - r.start) / 1000;
    return s > 0 ? `${formatBytes(Math.round(r.transferred / s))}/s` : '';
  };
  const describe = (r: Row): string => {
    const done = r.state === 'done' || r.state === 'exists' || r.state === 'mount';
    if (r.state === 'exists') return `${shortDigest(r.digest)}: already present (${formatBytes(r.size)})`;
    if (r.state === 'mount')
      return `${shortDigest(r.digest)}: mounted from another repository (${formatBytes(r.size)})`;
    if (done)
      return `${shortDigest(r.digest)}: done ${formatBytes(r.size)} in ${formatDuration(Date.now() - r.start)} (${rate(r)})`;
    const frac = r.size > 0 ? Math.min(1, r.transferred / r.size) : 0;
    const pct = r.size > 0 ? ` ${Math.floor(frac * 100)}%` : '';
    const bar = tty ? ` [${'='.repeat(Math.floor(frac * 30)).padEnd(30, ' ')}]` : '';
    return `${shortDigest(r.digest)}: ${r.state}${bar} ${formatBytes(r.transferred)}/${formatBytes(r.size)}${pct} ${rate(r)}`;
  };
  const redraw = (): void => {
    if (drawn) out.write(`\x1b[${drawn}A`);
    const width = Math.max(20, (out.columns ?? 100) - 1);
    for (const k of order) out.write(`\x1b[2K${describe(rows.get(k)!).slice(0, width)}\n`);
    drawn = order.length;
  };
  let lastTick = Date.now();
  let closed = false;
  const timer = setInterval(
    () => {
      if (tty) return redraw();
      // Plain: a progress line every 2 s for what is still moving.
      if (Date.now() - lastTick < 2000) return;
      lastTick = Date.now();
      for (const k of order) {
        const r = rows.get(k)!;
        if (r.state === 'downloading' || r.state === 'uploading') out.write(describe(r) + '\n');
      }
    },
    tty ? 200 : 500,
  );
  timer.unref();
  return {
    onProgress(p) {
      if (p.kind !== 'blob') return;
      const key = `${p.repository ?? ''} ${p.digest}`;
      let r = rows.get(key);
      if (!r) {
        r = { digest: p.digest, size: p.size, transferred: 0, start: Date.now(), state: 'waiting' };
        rows.set(key, r);
        order.push(key);
      }
      const before = r.state;
      r.transferred = p.transferred;
      if (p.action === 'download') r.state = 'downloading';
      else if (p.action === 'upload') r.state = 'uploading';
      else if (p.action === 'retry') {
        if (!tty)
          out.write(`${shortDigest(p.digest)}: retrying at ${formatBytes(p.transferred)} (${p.message ?? 'error'})\n`);
        return;
      } else if (p.action === 'done' || p.action === 'exists' || p.action === 'mount') r.state = p.action;
      if (!tty && before !== r.state && r.state !== 'uploading' && r.state !== 'downloading')
        out.write(describe(r) + '\n');
      else if (!tty && before === 'waiting') out.write(`${shortDigest(p.digest)}: ${r.state} ${formatBytes(r.size)}\n`);
    },
    onRetry(n) {
      // on a terminal the line goes above the live rows, which are drawn again below it
      if (tty && drawn) {
        out.write(`\x1b[${drawn}A\x1b[0J`);
        drawn = 0;
      }
      out.write(describeRetry(n) + '\n');
      if (tty) redraw();
    },
    close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      if (tty) redraw();
    },
  };
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
    ...(flags.verbose || g.debug ? { verbose: (m: string) => process.stderr.write(`[registry] ${m}\n`) } : {}),
  };
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
        const renderer = await createTransferRenderer(opts.progress);
        try {
          const r = await pullImage(ref, store, {
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
      const { parseReference, normalizeName } = await import('../../oci/index.js');
      const { pushImage } = await (await import('../../registry-client/index.js')).loadRegistryClient();
      const store = await openStore(g);
      const renderer = await createTransferRenderer(opts.progress);
      try {
        let key = name;
        try {
          key = normalizeName(name);
        } catch {
          // a digest or digest prefix: the store resolves it
        }
        const record = (await store.resolveImage(key)) ?? (key !== name ? await store.resolveImage(name) : undefined);
        if (!record) throw new UsageError(`image "${name}" is not in the store (${g.root})`);
        const targets = (dests.length ? dests : [name]).map((d) => asUsage(() => parseReference(d)));
        const manifest = {
          mediaType: record.manifestMediaType,
          digest: record.manifestDigest,
          size: await store.blobSize(record.manifestDigest),
        };
        const { digest } = await pushImage(store, manifest, targets, {
          ...(await registryOptions(g, opts)),
          onProgress: (p) => renderer.onProgress(p),
          onRetry: (n) => renderer.onRetry(n),
        });
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
