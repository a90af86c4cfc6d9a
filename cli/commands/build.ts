// `tsbuild build [options] CONTEXT` — the default command, so `tsbuild -f Buildfile -t app:1 .` works. docker
// build's flags; the builder and the progress renderers load inside the action.
import { Option, type Command } from 'commander';
import { collect, globalOptions, UsageError } from '../context.js';
import { addViewOptions, type ViewFlags } from '../view-options.js';
import type { AttestRequest, BuildEvent, BuildOptions, OutputSpec, SecretSpec } from '../../builder/index.js';
import { tsbuildVersion } from '../version.js';
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
  isolation?: 'auto' | 'chroot' | 'pivot' | 'none';
  secret: string[];
  ssh: string[];
  buildContext: string[];
  iidfile?: string;
  metadataFile?: string;
  quiet?: boolean;
  progress: ProgressMode;
  output: string[];
  push?: boolean;
  concurrency?: string;
  check?: boolean;
  sbom?: string | true;
  provenance?: string | true;
  attest: string[];
  annotation: string[];
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

/** `--sbom`, `--provenance`, `--attest` into one request (undefined: none asked, or all disabled). */
async function attestRequest(flags: Flags): Promise<AttestRequest | undefined> {
  const value = (flag: string, v: string | true | undefined): string | undefined => {
    if (v === undefined || v === true) return v === true ? 'true' : undefined;
    // commander takes the next word as the optional value: `--sbom .` would eat the context
    if (!/^(true|false|1|0)$/.test(v) && !v.includes('='))
      throw new UsageError(`--${flag} ${v}: not a value of --${flag}; write --${flag}=true (or =false, =KEY=VALUE)`);
    return v;
  };
  const sbom = value('sbom', flags.sbom);
  const provenance = value('provenance', flags.provenance);
  if (sbom === undefined && provenance === undefined && flags.attest.length === 0) return undefined;
  const { parseAttestFlags } = await import('../../builder/index.js');
  return parseAttestFlags({
    ...(sbom !== undefined ? { sbom } : {}),
    ...(provenance !== undefined ? { provenance } : {}),
    attest: flags.attest,
  });
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
    .argument(
      '[context]',
      'build context directory, a Git URL (URL#ref:subdir), or - to read a tar (or a Buildfile) from stdin',
      '.',
    )
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
    .option(
      '--platform <os/arch>',
      'target platform, or a comma-separated list: one image per platform under one index',
    )
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
        'root switch for RUN: chroot (fast, escape capabilities dropped), pivot (pivot_root), none (copy snapshots only) or auto',
      ).choices(['auto', 'chroot', 'pivot', 'none']),
    )
    .option('--secret <id=ID,src=FILE>', 'secret for RUN --mount=type=secret (repeatable)', collect, [])
    .option(
      '--ssh <default|ID=SOCKET|ID=KEY[,KEY]>',
      'SSH agent or keys for RUN --mount=type=ssh (default: $SSH_AUTH_SOCK; repeatable)',
      collect,
      [],
    )
    .option(
      '--build-context <NAME=DIR|URL|docker-image://REF|oci-layout://PATH>',
      'a named context for FROM NAME, COPY --from=NAME and RUN --mount=from=NAME (repeatable)',
      collect,
      [],
    )
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
      'output: DIR | - (tar on stdout) | type=image|registry|local|tar|oci|docker,KEY=VALUE… (repeatable; README)',
      collect,
      [],
    )
    .option('--push', 'push the image to the registries of its -t names')
    .option('--concurrency <n>', 'stages built at once (default 2)')
    .option('--check', 'run the build checks only and build nothing (exit 1 when a check fires)')
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
  // attestations (builder/attest-spec.ts): off unless asked
  cmd
    .option('--sbom [bool|keys]', 'attach an SPDX SBOM of the image: --sbom, --sbom=true|false, --sbom=scan-stage=true')
    .option('--provenance [bool|keys]', 'attach SLSA provenance: --provenance, =true|false, =mode=min|max')
    .option('--attest <type=sbom|provenance,…>', 'attach an attestation, as buildx (repeatable)', collect, [])
    .option(
      '--annotation <[type[platform]:]K=V>',
      'annotate the manifest (or index:, manifest-descriptor:) (repeatable)',
      collect,
      [],
    );
  addViewOptions(cmd);
  // Flags docker build has that tsbuild does not: fail clearly instead of "unknown option".
  for (const f of ['--add-host <host:ip>', '--shm-size <n>', '--ulimit <u>', '--squash', '--compress', '--load']) {
    cmd.addOption(new Option(f).hideHelp());
  }
  cmd.action(async (context: string, flags: Flags & Record<string, unknown>, self: Command) => {
    for (const f of ['addHost', 'shmSize', 'ulimit', 'squash', 'compress', 'load']) {
      if (flags[f] !== undefined)
        throw new UsageError(`--${f.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is not supported by tsbuild`);
    }
    for (const a of flags.allow) {
      if (a !== 'network.host')
        throw new UsageError(`--allow ${a} is not supported by tsbuild (only --allow network.host)`);
    }
    // A malformed --platform (or an entry of a list) fails here, before any pull or step, naming the flag.
    if (flags.platform !== undefined) {
      const { parsePlatformList } = await import('../../oci/index.js');
      try {
        parsePlatformList(flags.platform);
      } catch (e) {
        throw new UsageError(`--platform: ${(e as Error).message}`);
      }
    }
    const g = globalOptions(self);
    const attest = await attestRequest(flags);
    const outputs = flags.output.length > 0 ? await parseOutputs(flags.output, flags.quiet === true) : [];
    // the mode (cli/mode.ts): copy snapshots when unprivileged, and `--isolation none` refused for the overlay modes
    const { currentMode, modeLine, takeDeferredNamespace } = await import('../mode.js');
    const decision = await currentMode(flags.isolation);
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
      registryMirrors: g.registryMirrors,
      insecureRegistries: g.insecureRegistries,
      ...(flags.target !== undefined ? { target: flags.target } : {}),
      ...(flags.platform !== undefined ? { platform: flags.platform } : {}),
      ...(flags.network !== undefined ? { network: flags.network as 'host' | 'none' | 'default' } : {}),
      ...(flags.allow.length > 0 ? { allow: flags.allow as 'network.host'[] } : {}),
      ...(flags.ssh.length > 0 ? { ssh: await parseSsh(flags.ssh) } : {}),
      ...(flags.buildContext.length > 0 ? { buildContexts: await parseBuildContexts(flags.buildContext) } : {}),
      ...(flags.isolation === 'chroot' || flags.isolation === 'pivot' ? { isolation: flags.isolation } : {}),
      ...(decision.snapshots === 'copy' ? { snapshots: 'copy' as const } : {}),
      ...(decision.procShared ? { procShared: true } : {}),
      // with copy snapshots (the mode refused it otherwise): RUN fails at once, the rest builds (issue 16)
      ...(flags.isolation === 'none' ? { isolation: 'none' as const } : {}),
      ...(flags.iidfile !== undefined ? { iidfile: flags.iidfile } : {}),
      ...(flags.metadataFile !== undefined ? { metadataFile: flags.metadataFile } : {}),
      ...(flags.concurrency !== undefined ? { concurrency: Number(flags.concurrency) } : {}),
      ...(attest ? { attest, toolVersion: tsbuildVersion() } : {}),
      ...(flags.annotation.length > 0 ? { annotations: flags.annotation } : {}),
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
    if (flags.check) {
      await checkOnly(opts, flags.progress === 'json');
      return;
    }
    const mode: ProgressMode = flags.quiet ? 'quiet' : flags.progress;
    const { startBuildView } = await import('../progress/session.js');
    const view = await startBuildView({
      progress: mode,
      debug: g.debug,
      ...(flags.report !== undefined
        ? {
            report: flags.report,
            reportInfo: (await import('../report/index.js')).reportBuildInfo({
              tags: opts.tags ?? [],
              buildArgs: opts.buildArgs ?? {},
              ...(opts.platform !== undefined ? { platform: opts.platform } : {}),
            }),
          }
        : {}),
      explainCache: flags.explainCache ?? false,
    });
    // rootless, outside the user namespace still: build only if every step is cached, holding the events until it
    // is known whether this attempt is the build (cli/mode.ts); if not, the build runs again in the namespace
    const enterNamespace = takeDeferredNamespace();
    const held: BuildEvent[] | undefined = enterNamespace ? [] : undefined;
    opts.onEvent = held ? (e) => held.push(e) : view.onEvent;
    if (enterNamespace) opts.onlyIfCached = true;
    // --debug: the first progress line says which mode this build runs in, and why
    if (g.debug) opts.onEvent({ type: 'log', time: Date.now(), level: 'info', message: await modeLine(decision) });
    // Ctrl-C (or a TERM) aborts view.signal (the view's one handler): running containers are killed and temporary
    // directories removed, then view.finish() throws the interruption (exit 130 / 143).
    opts.signal = view.signal;
    const { build, isNotCached } = await import('../../builder/index.js');
    const release = (): void => {
      for (const e of held?.splice(0) ?? []) view.onEvent(e);
    };
    try {
      let r: Awaited<ReturnType<typeof build>>;
      try {
        r = await build(opts);
      } catch (e) {
        if (enterNamespace && !view.interrupted && (isNotCached(e) || deniedOutside(e))) {
          view.discard();
          process.exitCode = await enterNamespace();
          return;
        }
        release();
        throw e;
      }
      if (held && g.debug)
        held.splice(1, 0, {
          type: 'log',
          time: Date.now(),
          level: 'info',
          message: 'every step was cached: built without entering the user namespace',
        });
      release();
      // a JSON stream holds only events: the result is its last
      const result = {
        imageId: r.imageId,
        manifestDigest: r.manifestDigest,
        tags: r.tags,
        ...(r.pushed ? { pushed: r.pushed.map((p) => ({ ref: p.ref, digest: p.digest })) } : {}),
      };
      await view.finish(mode === 'json' ? { type: 'result', time: Date.now(), ...result } : undefined);
      if (flags.quiet) process.stdout.write(`${r.imageId}\n`);
      else if (mode !== 'json') {
        process.stderr.write(`${r.tags.length > 0 ? `naming to ${r.tags.join(', ')}\n` : ''}image ${r.imageId}\n`);
        // --push: the result is the registry's digest per tag (REF@sha256:…), not the local manifest's (a JSON
        // stream has them as image-pushed events)
        for (const p of r.pushed ?? []) process.stderr.write(`${p.ref}@${p.digest}\n`);
      }
    } finally {
      await view.finish();
    }
  });
}

async function parseSsh(list: string[]): Promise<NonNullable<BuildOptions['ssh']>> {
  const { parseSshSpec } = await import('../../builder/index.js');
  return list.map(parseSshSpec);
}

async function parseBuildContexts(list: string[]): Promise<NonNullable<BuildOptions['buildContexts']>> {
  const { parseBuildContext } = await import('../../builder/index.js');
  return list.map(parseBuildContext);
}

/** `-o` values (builder/output-spec.ts); a tar on stdout refuses a terminal and `-q` (which prints there). */
async function parseOutputs(list: string[], quiet: boolean): Promise<OutputSpec[]> {
  const { parseOutputSpec } = await import('../../builder/index.js');
  const outputs = list.map(parseOutputSpec);
  const toStdout = outputs.find((o) => o.type !== 'image' && o.dest === '-');
  if (toStdout && quiet) throw new UsageError(`-q and -o type=${toStdout.type},dest=- both write to stdout`);
  if (toStdout && process.stdout.isTTY) {
    throw new UsageError(`-o type=${toStdout.type},dest=- would write a tar to the terminal`, {
      hint: 'redirect stdout to a file or a pipe, or give dest=FILE',
    });
  }
  return outputs;
}

/** `--check`: buildx's check report on stdout (one check-warning event a line with --progress=json); exit 1 if any. */
async function checkOnly(opts: BuildOptions, json: boolean): Promise<void> {
  const check = await (await import('../../builder/index.js')).loadCheckOnly();
  const report = await check(opts);
  for (const n of report.notices)
    process.stderr.write(
      json ? `${JSON.stringify({ type: 'log', time: Date.now(), level: 'warn', message: n })}\n` : `WARNING: ${n}\n`,
    );
  if (json) {
    for (const w of report.warnings) {
      const { rule, message, description, url, line, endLine } = w;
      const e = {
        type: 'check-warning',
        time: Date.now(),
        rule,
        message,
        description,
        url,
        file: report.file,
        line,
        endLine,
      };
      process.stdout.write(`${JSON.stringify(e)}\n`);
    }
  } else {
    const { formatCheckReport } = await import('../check-output.js');
    process.stdout.write(formatCheckReport(report));
  }
  if (report.warnings.length > 0) process.exitCode = 1;
}

/**
 * An error a process outside the user namespace may meet where the namespace's root would not (a file of a
 * subordinate id): the cached-only attempt gives way to the build in the namespace, which reports what it meets.
 */
function deniedOutside(e: unknown): boolean {
  for (let c = e, n = 0; c instanceof Error && n < 8; c = c.cause, n++) {
    const code = (c as NodeJS.ErrnoException).code;
    if (code === 'EPERM' || code === 'EACCES') return true;
  }
  return false;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
