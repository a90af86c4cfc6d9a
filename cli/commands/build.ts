// `tsbuild build [options] CONTEXT` — the default command, so `tsbuild -f Buildfile -t app:1 .` works. docker
// build's flags; the builder and the progress renderers load inside the action.
import { Option, type Command } from 'commander';
import { collect, globalOptions, UsageError } from '../context.js';
import { parseOutputLayers } from '../../oci/index.js';
import { addViewOptions, type ViewFlags } from '../view-options.js';
import type { BuildOptions, OutputSpec, SecretSpec } from '../../builder/index.js';
import type { ProgressMode } from '../progress/index.js';

interface Flags extends ViewFlags {
  file?: string;
  tag: string[];
  buildArg: string[];
  target?: string;
  cache: boolean;
  /** commander files `--no-cache-filter` under `cacheFilter`. */
  cacheFilter: string[];
  pull?: boolean;
  platform?: string;
  label: string[];
  network?: string;
  allow: string[];
  isolation?: 'chroot' | 'pivot';
  secret: string[];
  iidfile?: string;
  metadataFile?: string;
  quiet?: boolean;
  progress: ProgressMode;
  output: string[];
  push?: boolean;
  concurrency?: string;
}

/** `K=V` → [K, V]; `K` alone takes K from the environment (dropped when unset), as docker does. */
export function parseBuildArgs(list: string[], env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of list) {
    const eq = a.indexOf('=');
    if (eq === 0) throw new UsageError(`invalid --build-arg "${a}"`);
    if (eq > 0) out[a.slice(0, eq)] = a.slice(eq + 1);
    else if (env[a] !== undefined) out[a] = env[a]!;
  }
  return out;
}

function csv(spec: string): Record<string, string> {
  const o: Record<string, string> = {};
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) o[part] = 'true';
    else o[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return o;
}

export function parseOutput(spec: string): OutputSpec {
  // docker's shorthand: `-o DIR` is type=local,dest=DIR; `-o -` is a tar on stdout (not supported here).
  if (!spec.includes('=')) return { type: 'local', dest: spec };
  const o = csv(spec);
  const type = o.type ?? 'local';
  if (type !== 'image' && type !== 'registry' && type !== 'local' && type !== 'oci' && type !== 'docker')
    throw new UsageError(`--output type=${type} is not supported (local, oci, docker, image)`);
  const layers = parseOutputLayers(type, o);
  if (type === 'image' || type === 'registry') return { type: 'image', ...(layers ? { layers } : {}) };
  const dest = o.dest;
  if (!dest) throw new UsageError(`--output type=${type} needs dest=`);
  return type === 'local' ? { type, dest } : { type, dest, ...(layers ? { layers } : {}) };
}

export function parseSecret(spec: string): SecretSpec {
  const o = csv(spec);
  if (!o.id) throw new UsageError(`--secret "${spec}": id= is required`);
  if (o.type && o.type !== 'file' && o.type !== 'env') throw new UsageError(`--secret type=${o.type} is not supported`);
  const src = o.src ?? o.source;
  return {
    id: o.id,
    ...(src !== undefined ? { src } : {}),
    ...(o.env !== undefined ? { env: o.env } : o.type === 'env' ? { env: o.id } : {}),
  };
}

function labels(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of list) {
    const eq = l.indexOf('=');
    out[eq < 0 ? l : l.slice(0, eq)] = eq < 0 ? '' : l.slice(eq + 1);
  }
  return out;
}

export function register(program: Command): void {
  const cmd = program
    .command('build', { isDefault: true })
    .description(
      'build an image from a Buildfile (Dockerfile syntax) and a context directory (or - for a tar on stdin)',
    )
    .argument('[context]', 'build context directory, or - to read a tar (or a Buildfile) from stdin', '.')
    .option('-f, --file <path>', 'Buildfile (default CONTEXT/Buildfile, then CONTEXT/Dockerfile; - for stdin)')
    .option('-t, --tag <name>', 'name the image (repeatable)', collect, [])
    .option(
      '--build-arg <K=V>',
      'set a build-time variable (repeatable; K alone takes it from the environment)',
      collect,
      [],
    )
    .option('--target <stage>', 'build this stage (and what it needs) only')
    .option('--no-cache', 'do not use the build cache')
    .option('--no-cache-filter <stage>', 'do not use the cache for these stages (repeatable)', collect, [])
    .option('--pull', 'always pull base images')
    .option('--platform <os/arch>', 'target platform')
    .option('--label <K=V>', 'set an image label (repeatable)', collect, [])
    .addOption(
      new Option('--network <mode>', 'network for RUN: default (private, outbound only), host or none').choices([
        'default',
        'host',
        'none',
      ]),
    )
    .option(
      '--allow <entitlement>',
      "grant an entitlement: network.host (lets RUN --network=host use the host's network; repeatable)",
      collect,
      [],
    )
    .addOption(
      new Option(
        '--isolation <mode>',
        'root switch for RUN: chroot (fast, escape capabilities dropped) or pivot (pivot_root)',
      ).choices(['chroot', 'pivot']),
    )
    .option('--secret <id=ID,src=FILE>', 'secret for RUN --mount=type=secret (repeatable)', collect, [])
    .option('--iidfile <file>', 'write the image ID to a file')
    .option('--metadata-file <file>', 'write build metadata (containerimage.digest) as JSON')
    .option('-q, --quiet', 'print only the image ID')
    .addOption(
      new Option('--progress <mode>', 'progress output')
        .choices(['auto', 'plain', 'json', 'quiet', 'tty'])
        .default('auto'),
    )
    .option(
      '-o, --output <spec>',
      'output: type=local,dest=DIR | type=oci,dest=FILE | type=docker,dest=FILE (repeatable)',
      collect,
      [],
    )
    .option('--push', 'push the image to the registries of its -t names')
    .option('--concurrency <n>', 'stages built at once (default 2)')
    .option(
      '--cache-from <spec>',
      'import build cache: type=registry,ref=IMAGE | type=local,src=DIR (repeatable)',
      collect,
      [],
    )
    .option(
      '--cache-to <spec>',
      'export build cache: type=registry,ref=IMAGE[,mode=max] | type=local,dest=DIR | type=inline (repeatable)',
      collect,
      [],
    );
  addViewOptions(cmd);
  // Flags docker build has that tsbuild does not: fail clearly instead of "unknown option".
  for (const f of [
    '--ssh <spec>',
    '--add-host <host:ip>',
    '--shm-size <n>',
    '--ulimit <u>',
    '--squash',
    '--compress',
    '--load',
    '--build-context <c>',
    '--attest <a>',
    '--sbom <s>',
    '--provenance <p>',
  ]) {
    cmd.addOption(new Option(f).hideHelp());
  }
  cmd.action(async (context: string, flags: Flags & Record<string, unknown>, self: Command) => {
    for (const f of [
      'ssh',
      'addHost',
      'shmSize',
      'ulimit',
      'squash',
      'compress',
      'load',
      'buildContext',
      'attest',
      'sbom',
      'provenance',
    ]) {
      if (flags[f] !== undefined)
        throw new UsageError(`--${f.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is not supported by tsbuild`);
    }
    for (const a of flags.allow) {
      if (a !== 'network.host')
        throw new UsageError(`--allow ${a} is not supported by tsbuild (only --allow network.host)`);
    }
    const g = globalOptions(self);
    const parsed = flags.output.map(parseOutput);
    const outputs = parsed.filter((o) => o.type !== 'image');
    const pushLayers = parsed.flatMap((o) => (o.type === 'image' && o.layers ? [o.layers] : []))[0];
    if (pushLayers && !flags.push)
      throw new UsageError('--output type=image layer keys (compression=…) apply to a push: add --push');
    const opts: BuildOptions = {
      root: g.root,
      context,
      tags: flags.tag,
      buildArgs: parseBuildArgs(flags.buildArg),
      noCache: flags.cache === false,
      noCacheFilter: flags.cacheFilter,
      pull: flags.pull ?? false,
      labels: labels(flags.label),
      secrets: flags.secret.map(parseSecret),
      outputs,
      push: flags.push ?? false,
      ...(pushLayers ? { pushLayers } : {}),
      registryMirrors: g.registryMirrors,
      insecureRegistries: g.insecureRegistries,
      ...(flags.target !== undefined ? { target: flags.target } : {}),
      ...(flags.platform !== undefined ? { platform: flags.platform } : {}),
      ...(flags.network !== undefined ? { network: flags.network as 'host' | 'none' | 'default' } : {}),
      ...(flags.allow.length > 0 ? { allow: flags.allow as 'network.host'[] } : {}),
      ...(flags.isolation !== undefined ? { isolation: flags.isolation } : {}),
      ...(flags.iidfile !== undefined ? { iidfile: flags.iidfile } : {}),
      ...(flags.metadataFile !== undefined ? { metadataFile: flags.metadataFile } : {}),
      ...(flags.concurrency !== undefined ? { concurrency: Number(flags.concurrency) } : {}),
    };
    if ((flags.cacheFrom as string[]).length + (flags.cacheTo as string[]).length > 0) {
      const cacheOptions = await (await import('../../builder/index.js')).loadCacheOptions();
      Object.assign(
        opts,
        await cacheOptions(flags.cacheFrom as string[], flags.cacheTo as string[], (m) => new UsageError(m)),
      );
    }
    if (flags.concurrency !== undefined && !(Number(flags.concurrency) >= 1))
      throw new UsageError('--concurrency must be a number ≥ 1');
    if (flags.file === '-' && context === '-') throw new UsageError('-f - and a context of - cannot both read stdin');
    if (flags.file === '-') {
      opts.fileText = await readStdin();
      opts.file = 'Buildfile';
    } else if (flags.file !== undefined) opts.file = flags.file;
    if (context === '-') {
      const { sniffStdin } = await import('./build-stdin.js');
      const s = await sniffStdin();
      if (s.kind === 'tar') opts.context = { tar: s.stream };
      else {
        // `tsbuild build - < Buildfile`: the Buildfile on stdin, no context.
        opts.fileText = s.text;
        opts.file = 'Buildfile';
        const { mkdtemp } = await import('node:fs/promises');
        const { tmpdir } = await import('node:os');
        const { join } = await import('node:path');
        opts.context = await mkdtemp(join(tmpdir(), 'tsbuild-empty-context-'));
      }
    }
    const mode: ProgressMode = flags.quiet ? 'quiet' : flags.progress;
    const { startBuildView } = await import('../progress/session.js');
    const view = await startBuildView({
      progress: mode,
      ...(flags.report !== undefined ? { report: flags.report } : {}),
      explainCache: flags.explainCache ?? false,
    });
    opts.onEvent = view.onEvent;
    // Ctrl-C (or a TERM) aborts view.signal (the view's one handler): running containers are killed and temporary
    // directories removed, then view.finish() throws the interruption (exit 130 / 143).
    opts.signal = view.signal;
    const { build } = await import('../../builder/index.js');
    try {
      const r = await build(opts);
      await view.finish();
      if (flags.quiet) process.stdout.write(`${r.imageId}\n`);
      else process.stderr.write(`${r.tags.length > 0 ? `naming to ${r.tags.join(', ')}\n` : ''}image ${r.imageId}\n`);
    } finally {
      await view.finish();
    }
  });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
