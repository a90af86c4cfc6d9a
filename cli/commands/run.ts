// `tsbuild run IMAGE [CMD...]`: run an image's command in a throwaway container (changes are discarded).
import { Option, type Command } from 'commander';
import { collect, globalOptions, UsageError } from '../context.js';
import type { ContainerConfig } from '../../oci/index.js';
import type { ContainerSpec, Isolation, NetworkMode } from '../../runtime/index.js';

interface RunOptions {
  network: NetworkMode;
  user?: string;
  env: string[];
  workdir?: string;
  hostname?: string;
  isolation: Isolation;
  entrypoint?: string;
  memory?: string;
  cpus?: string;
  pidsLimit?: string;
}

/** The process an image runs, Docker's way: ENTRYPOINT + (CMD from the command line, else the image's Cmd). */
export function imageProcess(
  config: ContainerConfig,
  o: Pick<RunOptions, 'env' | 'user' | 'workdir' | 'entrypoint'>,
  cmd: string[],
): Pick<ContainerSpec, 'args' | 'env' | 'cwd' | 'user'> {
  const entrypoint =
    o.entrypoint !== undefined ? (o.entrypoint === '' ? [] : [o.entrypoint]) : (config.Entrypoint ?? []);
  const command = cmd.length > 0 ? cmd : o.entrypoint !== undefined ? [] : (config.Cmd ?? []);
  const args = [...entrypoint, ...command];
  if (args.length === 0) throw new UsageError('no command: the image has no Entrypoint or Cmd and none was given');
  const env = new Map<string, string>();
  for (const e of [...(config.Env ?? []), ...o.env]) {
    const i = e.indexOf('=');
    if (i < 0) {
      const v = process.env[e];
      if (v !== undefined) env.set(e, v);
    } else env.set(e.slice(0, i), e.slice(i + 1));
  }
  return {
    args,
    env: [...env].map(([k, v]) => `${k}=${v}`),
    cwd: o.workdir ?? (config.WorkingDir || '/'),
    user: o.user ?? (config.User || undefined),
  };
}

function parseBytes(v: string): number {
  const m = /^(\d+(?:\.\d+)?)([kmg]?)b?$/i.exec(v.trim());
  if (!m) throw new UsageError(`invalid size "${v}" (e.g. 512m, 2g)`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Math.round(Number(m[1]) * mult);
}

export function register(program: Command): void {
  program
    .command('run')
    .description('run a command in a throwaway container of IMAGE (changes are discarded; --rm is implied)')
    .argument('<image>', 'image name or digest in the store')
    .argument('[cmd...]', "command and arguments (default: the image's Entrypoint/Cmd)")
    .addOption(
      new Option('--network <mode>', 'network: default (private, outbound only), host or none')
        .choices(['default', 'host', 'none'])
        .default('default'),
    )
    .option('-u, --user <user[:group]>', 'user (name or uid) and group to run as')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', collect, [])
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('--hostname <name>', 'container hostname')
    .option('--entrypoint <path>', "override the image's Entrypoint")
    .addOption(
      new Option('--isolation <mode>', 'chroot (fast) or pivot (pivot_root, stricter)')
        .choices(['chroot', 'pivot'])
        .default('chroot'),
    )
    .option('--memory <bytes>', 'memory limit (e.g. 512m)')
    .option('--cpus <n>', 'CPU limit (e.g. 1.5)')
    .option('--pids-limit <n>', 'maximum number of processes')
    .option('--rm', 'remove the container afterwards (always the case)')
    .allowUnknownOption()
    .addHelpText(
      'after',
      '\nOptions go before IMAGE; everything after IMAGE is CMD, as with docker run: tsbuild run busybox ls -l /',
    )
    .action(async (image: string, cmd: string[], opts: RunOptions, command: Command) => {
      const g = globalOptions(command);
      const { openStoreFor } = await import('../open-store.js');
      const { runContainer, cleanupStaleMounts } = await import('../../runtime/index.js');
      const store = await openStoreFor(g);
      try {
        const record = await store.images.resolve(image);
        if (!record) throw new Error(`image "${image}" is not in the store (${g.root}); pull or import it first`);
        const proc = imageProcess(record.config.config ?? {}, opts, cmd);
        const lowerdirs = await store.layers.lowerdirsFor(record);
        const dirs = await store.containerDirs();
        await cleanupStaleMounts();
        const { constants } = await import('node:os');
        const abort = new AbortController();
        let stoppedBy: NodeJS.Signals | undefined;
        const stop = (sig: NodeJS.Signals): void => {
          stoppedBy ??= sig;
          abort.abort();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
        try {
          const cpus = opts.cpus !== undefined ? Number(opts.cpus) : undefined;
          const pids = opts.pidsLimit !== undefined ? Number(opts.pidsLimit) : undefined;
          if ((cpus !== undefined && !(cpus > 0)) || (pids !== undefined && !Number.isInteger(pids)))
            throw new UsageError('invalid --cpus or --pids-limit');
          const result = await runContainer({
            rootfs: { lowerdirs, upperdir: dirs.upperdir, workdir: dirs.workdir },
            ...proc,
            hostname: opts.hostname,
            network: opts.network,
            isolation: opts.isolation,
            helperDir: `${store.root}/runtime`,
            resources: {
              memoryBytes: opts.memory !== undefined ? parseBytes(opts.memory) : undefined,
              cpus,
              pidsLimit: pids,
            },
            signal: abort.signal,
            onStdout: (c) => process.stdout.write(c),
            onStderr: (c) => process.stderr.write(c),
          });
          // Like a shell: 128+n for a death by signal n; Ctrl-C/SIGTERM report the signal that stopped us.
          const sig = result.aborted && stoppedBy ? stoppedBy : result.signal;
          process.exitCode = result.exitCode ?? 128 + (constants.signals[sig as NodeJS.Signals] ?? 0);
        } finally {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          await dirs.release();
          // Drops the run dir's private bind mount too when no other tsbuild has containers there.
          await cleanupStaleMounts();
        }
      } finally {
        await store.close();
      }
    });
}
