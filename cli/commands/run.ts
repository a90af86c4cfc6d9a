// `tsbuild run IMAGE [CMD...]`: run an image's command in a throwaway container (changes are discarded).
import { Option, type Command } from 'commander';
import { collect, globalOptions, UsageError } from '../context.js';
import { formatPlatform, parsePlatform, platformRank, TsbuildError } from '../../oci/index.js';
import type { ContainerConfig, Platform } from '../../oci/index.js';
import type { ContainerSpec, Isolation, NetworkMode } from '../../runtime/index.js';

interface RunOptions {
  network: NetworkMode;
  user?: string;
  env: string[];
  workdir?: string;
  hostname?: string;
  isolation: Isolation | 'auto' | 'none';
  entrypoint?: string;
  memory?: string;
  cpus?: string;
  pidsLimit?: string;
  platform?: string;
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

function platformOption(v: string): Platform {
  try {
    return parsePlatform(v);
  } catch (e) {
    throw new UsageError(`--platform: ${(e as Error).message}`);
  }
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
      new Option(
        '--isolation <mode>',
        'chroot (fast), pivot (pivot_root, stricter), none (copy snapshots only) or auto',
      )
        .choices(['auto', 'chroot', 'pivot', 'none'])
        .default('auto'),
    )
    .option('--memory <bytes>', 'memory limit (e.g. 512m)')
    .option('--cpus <n>', 'CPU limit (e.g. 1.5)')
    .option('--pids-limit <n>', 'maximum number of processes')
    .option('--rm', 'remove the container afterwards (always the case)')
    .option('--platform <os/arch[/variant]>', "the platform's image of a stored index (default: the host's)")
    .allowUnknownOption()
    .addHelpText(
      'after',
      '\nOptions go before IMAGE; everything after IMAGE is CMD, as with docker run: tsbuild run busybox ls -l /',
    )
    .action(async (image: string, cmd: string[], opts: RunOptions, command: Command) => {
      const g = globalOptions(command);
      const { openStoreFor } = await import('../open-store.js');
      const { runContainer, cleanupStaleMounts, checkRunnable } = await import('../../runtime/index.js');
      const want = opts.platform !== undefined ? platformOption(opts.platform) : undefined;
      // the mode (cli/mode.ts): `--isolation none` is refused (exit 2) for the overlay modes, auto is chroot there
      const { currentMode } = await import('../mode.js');
      const decision = await currentMode(opts.isolation);
      const isolation = decision.isolation;
      if (isolation === 'none')
        throw new UsageError('tsbuild run with copy snapshots (--isolation none) is not implemented yet', {
          hint: 'run with --mode root or rootless',
        });
      const store = await openStoreFor(g);
      try {
        const record = await store.images.resolve(image, want);
        if (!record) throw new Error(`image "${image}" is not in the store (${g.root}); pull or import it first`);
        const have = {
          os: record.config.os,
          architecture: record.config.architecture,
          ...(record.config.variant ? { variant: record.config.variant } : {}),
        };
        // docker run's rule: a stored image of another platform than the one asked for is an error, not a guess
        if (want && platformRank(want, have) === undefined)
          throw new TsbuildError(
            'PLATFORM_MISMATCH',
            `image "${image}" is ${formatPlatform(have)}, not the ${formatPlatform(want)} asked for`,
            {
              hint: `pull it for ${formatPlatform(want)} (tsbuild pull --platform ${formatPlatform(want)}), or drop --platform`,
            },
          );
        // a foreign image fails here, naming the emulator it lacks, not with "exec format error"
        checkRunnable([{ platform: have, what: `image "${image}"` }]);
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
            isolation,
            ...(decision.procShared ? { procShared: true } : {}),
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
