// RUN: the command in a container over the stage's layers (shell form through SHELL, exec form as is, heredocs),
// with the stage's env (plus its ARGs), user and workdir, --network, and --mount=type=cache|secret|bind|tmpfs.
// The upperdir becomes the step's layer. The runtime module is loaded only when a RUN actually executes.
import { createHash } from 'node:crypto';
import { chown, chmod, mkdir, stat, statfs } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { explainChown, unmappedIdHint, type MountSpec } from '../../runtime/index.js';
import { clipLine } from '../../parser/index.js';
import type { RunInstruction } from '../../parser/index.js';
import { BuildError } from '../errors.js';
import { expand } from '../expand.js';
import { networkHostRefusal } from '../entitlements.js';
import { FlagError, parseCsv } from '../flags.js';
import { envMap, envValue } from '../image-config.js';
import { findStage } from '../plan.js';
import { openContextView } from '../context-view.js';
import type { ContextEntry } from '../context.js';
import { openView, type RootfsView } from '../view.js';
import { cachedStep, commitDirs, imageLowerdirs, lowerdirsOf, type StepOutcome } from './common.js';
import { copyRunRefusal, runInCopy } from './run-copy.js';
import type { Snapshots } from '../../store/index.js';
import { runArgs } from './metadata.js';
import { pruneUnchangedCopyUps } from './prune.js';
import { stageVars, type StepCtx } from './types.js';

const KEEP_LINES = 20;

/**
 * A shell script from heredocs longer than this goes into the container as a file, not as an argument: the kernel
 * refuses a single argument over 128 KiB (E2BIG). Shorter scripts stay in argv, as BuildKit passes them.
 */
export const SCRIPT_FILE_MIN = 64 * 1024;
/** Where a heredoc script is mounted (BuildKit mounts a heredoc with a shebang there, and runs it). */
const PIPES_DIR = '/dev/pipes';

interface MountPlan {
  /** What goes into the cache key. */
  key: unknown;
  /** Makes the runtime mount (opening views or dirs as needed). */
  make(): Promise<MountSpec | undefined>;
  /** A secret given to the process as an environment variable (`env=`): only its name is in the key. */
  env?(): [name: string, value: string] | undefined;
  /** An ssh mount's target (the first one's becomes SSH_AUTH_SOCK, as BuildKit sets it). */
  sshTarget?: string;
}

type RunCtx = StepCtx<RunInstruction>;

export async function runStep(sc: RunCtx): Promise<boolean> {
  const { ins, env, state } = sc;
  const line = ins.range.line;
  const cfg = state.config.config;
  const shell = cfg.Shell ?? ['/bin/sh', '-c'];
  let argv: string[];
  if (ins.json) argv = [...ins.args];
  else if (ins.heredocScript) {
    // `RUN <<EOF` alone: the heredoc is the script.
    argv = [...shell, ins.heredocs[0]!.content];
  } else if (ins.heredocs.length > 0) {
    argv = [...shell, `${ins.args.join(' ')}\n${ins.heredocs.map((h) => `${h.content}${h.name}\n`).join('')}`];
  } else argv = [...shell, ins.args.join(' ')];

  const networkFlag = ins.network;
  if (networkFlag !== undefined && !['none', 'host', 'default'].includes(networkFlag)) {
    throw new FlagError(`RUN --network=${networkFlag}: only none, host and default are supported`, line);
  }
  if (ins.security !== undefined && ins.security !== 'sandbox') {
    throw new FlagError('RUN --security=insecure is not supported', line);
  }
  // `default` is the build's network (--network), not necessarily the private one
  const network = networkFlag === 'none' ? 'none' : networkFlag === 'host' ? 'host' : env.network;
  // the plan was checked before the build started; ONBUILD triggers of a base image come only now
  if (networkFlag === 'host' && !env.allowNetworkHost)
    throw new FlagError(networkHostRefusal(`${env.plan.file}:${line}`), line);
  const args = runArgs(sc);
  const envList = [...(cfg.Env ?? [])];
  const have = envMap(envList);
  for (const [k, v] of args) if (!have.has(k)) envList.push(`${k}=${v}`);
  const user = cfg.User || undefined;
  const cwd = cfg.WorkingDir || '/';
  let sshMounts = 0;
  const mounts = await Promise.all(ins.mounts.map((m) => planMount(sc, m, () => sshMounts++)));

  // BuildKit's runCommandString: every declared ARG, an unset one as `NAME=`, an ENV of the same name winning
  const declared = [...state.args].map(([k, v]) => [k, envValue(cfg.Env, k) ?? v ?? ''] as const);
  const prefix = declared.length > 0 ? `|${declared.length} ${declared.map(([k, v]) => `${k}=${v}`).join(' ')} ` : '';
  const createdBy = `RUN ${prefix}${argv.join(' ')} # buildkit`;
  const parts = ['RUN', argv, envList, user ?? '', cwd, network, mounts.map((m) => m.key)];
  // argv stays what the cache key and the history record; only the process gets the script as a file
  const script = scriptFile(ins, argv, shell.length);

  return cachedStep(
    sc,
    parts,
    createdBy,
    async () => {
      if (env.snapshots) return runCopyStep(sc, env.snapshots, argv, script, envList, cwd, user, network, mounts);
      const { runContainer } = await import('../../runtime/index.js');
      await env.runtimeReady();
      // the build's network starts (once) while this step's layers and mounts are prepared
      const sharedNetwork = network === 'default' ? env.sharedNetwork() : undefined;
      sharedNetwork?.catch(() => undefined);
      const lowerdirs = await lowerdirsOf(sc);
      const dirs = await env.store.containerDirs();
      const opened: (() => Promise<void>)[] = [];
      const last: string[] = [];
      let partial: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };
      const onData = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
        const text = partial[stream] + chunk.toString('utf8');
        const lines = text.split('\n');
        partial[stream] = lines.pop()!;
        for (const line of lines) emitLine(stream, line);
      };
      const emitLine = (stream: 'stdout' | 'stderr', line: string): void => {
        last.push(line);
        if (last.length > KEEP_LINES) last.shift();
        env.emit({ type: 'step-output', time: Date.now(), step: sc.step, stream, line });
      };
      let result;
      let startMs = 0;
      try {
        const specs: MountSpec[] = [];
        for (const m of mounts) {
          const spec = await m.make();
          if (spec) specs.push(spec);
          const close = (spec as { close?: () => Promise<void> } | undefined)?.close;
          if (close) opened.push(close);
        }
        env.tally.container();
        startMs = Date.now() - 1;
        result = await runContainer({
          rootfs: { lowerdirs, upperdir: dirs.upperdir, workdir: dirs.workdir },
          args: script?.argv ?? argv,
          env: withSshEnv(withSecretEnv(envList, mounts), mounts),
          cwd,
          ...(user ? { user } : {}),
          network,
          ...(sharedNetwork ? { sharedNetwork: await sharedNetwork } : {}),
          // 'none' exists only with copy snapshots (refused with overlay by makeEnv)
          isolation: env.isolation === 'pivot' ? 'pivot' : 'chroot',
          ...(env.procShared ? { procShared: true } : {}),
          purpose: 'build',
          // the chroot helper runs as root: it lives under the store, which only root can write
          helperDir: `${env.store.root}/runtime`,
          mounts: [...specs.map(stripClose), ...(script ? [script.mount] : [])],
          ...(env.signal ? { signal: env.signal } : {}),
          onStdout: onData('stdout'),
          onStderr: onData('stderr'),
        });
        for (const s of ['stdout', 'stderr'] as const) if (partial[s] !== '') emitLine(s, partial[s]);
        partial = { stdout: '', stderr: '' };
      } catch (e) {
        await dirs.release();
        throw e;
      } finally {
        for (const c of opened) await c().catch(() => undefined);
      }
      if (result.exitCode !== 0) {
        // looked at before the upperdir is released: its writes are what filled the disk, and releasing frees them
        const full = await fullDiskNote(dirs.upperdir, env.store.root);
        // rootless with one id mapped: a chown in the command fails there (best effort, from its output)
        const idHint = unmappedIdHint(last);
        await dirs.release();
        const how = result.timedOut
          ? 'timed out'
          : result.signal
            ? `was killed by ${result.signal}`
            : `exited with code ${result.exitCode}`;
        throw new BuildError(`process "${clipLine(argv.join(' '), 1000)}" ${how}${full ? ` (${full.note})` : ''}`, {
          file: env.plan.file,
          step: sc.step,
          source: ins.original,
          exitCode: result.exitCode,
          signal: result.signal,
          lastLines: last,
          ...(full ? { hint: full.hint } : idHint ? { hint: idHint } : {}),
        });
      }
      try {
        await pruneUnchangedCopyUps(dirs.upperdir, lowerdirs, startMs, env.tmpDir);
      } catch (e) {
        await dirs.release();
        throw e;
      }
      return commitDirs(sc, dirs);
    },
    { instruction: argv.join(' '), args: Object.fromEntries(args), env: Object.fromEntries(envMap(cfg.Env)) },
  );
}

/** The copy-snapshot RUN (run-copy.ts), with this step's output and failure reporting. */
async function runCopyStep(
  sc: RunCtx,
  snapshots: Snapshots,
  argv: string[],
  script: { argv: string[]; mount: MountSpec } | undefined,
  envList: string[],
  cwd: string,
  user: string | undefined,
  network: 'default' | 'host' | 'none',
  mounts: MountPlan[],
): Promise<StepOutcome> {
  const { env, ins } = sc;
  // refused before any mount is prepared: a bind from= would try to mount a view
  const kinds = mounts.map((m) => (m.key as unknown[])[0] as string);
  const refusal = copyRunRefusal(sc, { network, mounts: [] });
  if (refusal) throw refusal;
  const bad = kinds.find((k) => k !== 'secret');
  if (bad !== undefined)
    throw new FlagError(
      `RUN --mount=type=${bad} is not supported with copy snapshots: no mount can be made here (type=secret is)`,
      ins.range.line,
    );
  const specs: MountSpec[] = [];
  for (const m of mounts) {
    const spec = await m.make();
    if (spec) specs.push(stripClose(spec));
    await (spec as { close?: () => Promise<void> } | undefined)?.close?.();
  }
  if (script) specs.push(script.mount);
  const last: string[] = [];
  const partial: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };
  const emitLine = (stream: 'stdout' | 'stderr', line: string): void => {
    last.push(line);
    if (last.length > KEEP_LINES) last.shift();
    env.emit({ type: 'step-output', time: Date.now(), step: sc.step, stream, line });
  };
  const onData = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    const lines = (partial[stream] + chunk.toString('utf8')).split('\n');
    partial[stream] = lines.pop()!;
    for (const line of lines) emitLine(stream, line);
  };
  env.tally.container();
  const r = await runInCopy(sc, snapshots, {
    argv: script?.argv ?? argv,
    env: withSecretEnv(envList, mounts),
    cwd,
    ...(user ? { user } : {}),
    network,
    mounts: specs,
    onStdout: onData('stdout'),
    onStderr: onData('stderr'),
  });
  for (const s of ['stdout', 'stderr'] as const) if (partial[s] !== '') emitLine(s, partial[s]);
  if (r.outcome) return r.outcome;
  const how = r.timedOut ? 'timed out' : r.signal ? `was killed by ${r.signal}` : `exited with code ${r.exitCode}`;
  throw new BuildError(`process "${clipLine(argv.join(' '), 1000)}" ${how}`, {
    file: env.plan.file,
    step: sc.step,
    source: ins.original,
    exitCode: r.exitCode,
    signal: r.signal,
    lastLines: last,
  });
}

/**
 * For a heredoc RUN whose script is too long for an argument: the script as a read-only file under /dev/pipes and
 * argv that sources it in the same shell (`sh -c '. /dev/pipes/EOF'`), so $0, `exit` and the shell's options behave
 * as with the script inline.
 */
function scriptFile(
  ins: RunInstruction,
  argv: string[],
  shellLength: number,
): { argv: string[]; mount: MountSpec } | undefined {
  if (ins.json || ins.heredocs.length === 0 || argv.length !== shellLength + 1) return undefined;
  const text = argv[argv.length - 1]!;
  const heredoc = ins.heredocs[0]!;
  if (ins.heredocs.length === 1 && text === heredoc.content && text.startsWith('#!')) {
    // `RUN <<EOF` whose script names its interpreter: BuildKit runs the file itself, not the shell on its text
    const target = `${PIPES_DIR}/${/^[A-Za-z0-9_]+$/.test(heredoc.name) ? heredoc.name : 'script'}`;
    return { argv: [target], mount: { type: 'file', target, content: text, mode: 0o755 } };
  }
  if (Buffer.byteLength(text) < SCRIPT_FILE_MIN) return undefined;
  const name = /^[A-Za-z0-9_]+$/.test(ins.heredocs[0]!.name) ? ins.heredocs[0]!.name : 'script';
  const target = `${PIPES_DIR}/${name}`;
  return { argv: [...argv.slice(0, -1), `. ${target}`], mount: { type: 'file', target, content: text, mode: 0o555 } };
}

/**
 * When the filesystem holding a failed RUN's writes is full (under 1 MiB or 0.5 % free), what to tell the user: the
 * command's own message for a failed write varies (ENOSPC, or EIO through overlayfs), and may not say why.
 */
async function fullDiskNote(upperdir: string, storeRoot: string): Promise<{ note: string; hint: string } | undefined> {
  const s = await statfs(upperdir).catch(() => undefined);
  if (!s) return undefined;
  const free = s.bavail * s.bsize;
  if (free >= 1 << 20 && free >= (s.blocks * s.bsize) / 200) return undefined;
  return {
    note: `no space left on device: the filesystem of the store ${storeRoot}, which holds the step's writes, has ${Math.round(free / 1024)} KiB free`,
    hint: `free space on that filesystem (df -h ${storeRoot}), or delete unreferenced blobs, layers and build cache with \`tsbuild prune\``,
  };
}

/**
 * The process's environment: the step's, plus the secrets mounted with `env=` (BuildKit's SecretAsEnvName), which
 * replace a variable of the same name. For this process only: never in the cache key, the config or the history.
 */
function withSecretEnv(envList: string[], mounts: MountPlan[]): string[] {
  const secrets = mounts.flatMap((m) => (m.env ? [m.env()] : [])).filter((e) => e !== undefined);
  if (secrets.length === 0) return envList;
  const names = new Set(secrets.map(([k]) => k));
  return [...envList.filter((e) => !names.has(e.slice(0, e.indexOf('=')))), ...secrets.map(([k, v]) => `${k}=${v}`)];
}

/**
 * SSH_AUTH_SOCK for the process when the step mounts an agent and the step's env does not set it (BuildKit's
 * rule): the first ssh mount's target. Not in the config, the history or the key (the target is, as a mount's).
 */
function withSshEnv(envList: string[], mounts: MountPlan[]): string[] {
  const first = mounts.find((m) => m.sshTarget !== undefined)?.sshTarget;
  if (first === undefined || envList.some((e) => e.startsWith('SSH_AUTH_SOCK='))) return envList;
  return [...envList, `SSH_AUTH_SOCK=${first}`];
}

function stripClose(m: MountSpec): MountSpec {
  const { close: _c, ...rest } = m as MountSpec & { close?: unknown };
  return rest as MountSpec;
}

async function planMount(sc: RunCtx, spec: string, sshIndex: () => number): Promise<MountPlan> {
  const { env, state } = sc;
  const line = sc.ins.range.line;
  const o = parseCsv(expand(spec, stageVars(state), env.plan.escapeToken));
  const type = o.type ?? 'bind';
  const target = o.target ?? o.dst ?? o.destination;
  const abs = (t: string): string => (posix.isAbsolute(t) ? t : posix.join(state.config.config.WorkingDir || '/', t));
  const ro = o.ro === 'true' || o.readonly === 'true';
  switch (type) {
    case 'cache': {
      if (!target) throw new FlagError('RUN --mount=type=cache needs target=', line);
      const id = o.id ?? abs(target);
      const dir = join(env.cacheMountDir, createHash('sha256').update(id).digest('hex').slice(0, 32));
      return {
        key: ['cache', id, abs(target), ro],
        make: async () => {
          const fresh = !(await stat(dir).catch(() => undefined));
          await mkdir(dir, { recursive: true });
          if (fresh) {
            await chmod(dir, o.mode ? parseInt(o.mode, 8) : 0o755);
            const [uid, gid] = [Number(o.uid ?? 0), Number(o.gid ?? 0)];
            await chown(dir, uid, gid).catch((e: unknown) => {
              throw explainChown(e, `the cache mount ${abs(target)}`, uid, gid);
            });
          }
          return { type: 'bind', root: dir, source: '/', target: abs(target), readonly: ro };
        },
      };
    }
    case 'tmpfs': {
      if (!target) throw new FlagError('RUN --mount=type=tmpfs needs target=', line);
      return {
        key: ['tmpfs', abs(target), o.size ?? ''],
        make: async () => ({ type: 'tmpfs', target: abs(target), ...(o.size ? { size: Number(o.size) } : {}) }),
      };
    }
    case 'secret': {
      // BuildKit's dispatchSecret: the id is id= (or source=), else the target's base name
      const id = o.id ?? o.source ?? o.src ?? (target ? posix.basename(target) : undefined);
      if (!id) throw new FlagError('RUN --mount=type=secret needs id= or target=', line);
      const envName = o.env;
      if (envName !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(envName))
        throw new FlagError(`RUN --mount=type=secret,env=${envName}: not a valid environment variable name`, line);
      // with env= the secret is a file only when target= asks for one too
      const t = target ? abs(target) : envName === undefined ? `/run/secrets/${id}` : undefined;
      const required = o.required === 'true';
      const value = (): Buffer | undefined => {
        const v = env.secrets.get(id);
        if (v === undefined && required)
          throw new FlagError(`secret ${id} is required but was not given (--secret id=${id},src=FILE)`, line);
        return v;
      };
      return {
        // The secret's value never enters the key, the layer or the history.
        key: envName === undefined ? ['secret', id, t] : ['secret', id, t ?? null, 'env', envName],
        make: async () => {
          const v = value();
          if (v === undefined || t === undefined) return undefined;
          return { type: 'file', target: t, content: v, mode: o.mode ? parseInt(o.mode, 8) : 0o400 };
        },
        ...(envName !== undefined
          ? {
              env: (): [string, string] | undefined => {
                const v = value();
                return v === undefined ? undefined : [envName, v.toString('utf8')];
              },
            }
          : {}),
      };
    }
    case 'bind': {
      const t = target ? abs(target) : undefined;
      if (!t) throw new FlagError('RUN --mount=type=bind needs target=', line);
      const source = posix.normalize(`/${o.source ?? o.src ?? ''}`);
      // rw=true: the RUN may write, into a throwaway overlay (BuildKit's semantics); never into the source.
      const rw = o.rw === 'true' || o.readwrite === 'true';
      const bind = (root: string): MountSpec => ({
        type: 'bind',
        root,
        source,
        target: t,
        readonly: !rw,
        ...(rw ? { discardWrites: true } : {}),
      });
      const named =
        o.from !== undefined && findStage(env.plan.stages, o.from, state.plan.index) === undefined
          ? env.named?.get(o.from)
          : undefined;
      if (o.from !== undefined && named?.kind !== 'context') {
        const from = o.from;
        const idx = findStage(env.plan.stages, from, state.plan.index);
        let key: string;
        let lowers: () => Promise<string[]>;
        if (idx !== undefined) {
          const st = await env.stage(idx);
          key = st.key;
          lowers = () => lowerdirsOf({ env, state: st });
        } else {
          // a --build-context image of that name comes before an image of that name
          const img = named ? (await named.image(env.plan.targetPlatform)).record : await env.resolveImage(from);
          if (named) await env.baseImagesStored();
          key = img.manifestDigest;
          lowers = () => imageLowerdirs(env, img);
        }
        return {
          key: ['bind', 'from', key, source, t, rw],
          make: async () => {
            const view: RootfsView = await openView(await lowers(), env.tmpDir);
            try {
              await checkBindSource(
                view.dir,
                source,
                () => `RUN --mount=type=bind,from=${from}: source "${source}" not found in ${from}`,
                line,
              );
            } catch (e) {
              await view.close();
              throw e;
            }
            return Object.assign(bind(view.dir), { close: () => view.close() });
          },
        };
      }
      // The source as the context's own tree names it (a symlink in the context followed inside the context); the
      // build context, or a --build-context file tree of the from= name.
      const ctx = named?.kind === 'context' ? await named.context : env.context;
      const rel = (await resolveInContext(ctx.root, source, line)).slice(1);
      // the walk is streamed into the hash (a monorepo's context is never a list)
      if ((await ctx.entry(rel)) === undefined || (ctx.isIgnored(rel) && !ctx.hasVisibleBelow(rel)))
        throw contextSourceMissing(source, line);
      const entries = function* (): Generator<{ name: string; entry: ContextEntry }, void, undefined> {
        for (const e of ctx.entries(rel)) yield { name: e.rel, entry: e };
      };
      const hash = await ctx.hashEntries(entries());
      return {
        key: ['bind', 'context', ...(named ? [named.name] : []), source, hash, t, rw],
        make: async () => {
          const view = await openContextView(ctx, env.tmpDir);
          return Object.assign(bind(view.dir), { close: () => view.close() });
        },
      };
    }
    case 'ssh': {
      // BuildKit's dispatchSSH: id default, target /run/buildkit/ssh_agent.N, mode 0600, owner 0:0, optional
      const id = o.id ?? 'default';
      const n = sshIndex();
      const t = abs(target ?? `/run/buildkit/ssh_agent.${n}`);
      const num = (k: string, v: string | undefined, dflt: number, base = 10): number => {
        const n = v === undefined ? dflt : parseInt(v, base);
        if (!Number.isInteger(n) || n < 0) throw new FlagError(`RUN --mount=type=ssh,${k}=${v}: not a number`, line);
        return n;
      };
      const owner = { uid: num('uid', o.uid, 0), gid: num('gid', o.gid, 0), mode: num('mode', o.mode, 0o600, 8) };
      if (!env.ssh?.has(id)) {
        if (o.required === 'true')
          throw new FlagError(`no SSH agent or key "${id}" was given, and the mount is required (--ssh ${id})`, line);
        // not required and not given: no socket, as BuildKit skips an optional one
        return { key: ['ssh', id, t, 'absent'], make: async () => undefined };
      }
      const agents = env.ssh;
      return {
        // only the id, target and socket's owner: never the agent's path or its keys
        key: ['ssh', id, t, owner.uid, owner.gid, owner.mode],
        sshTarget: t,
        make: async () => {
          const r = await agents.relay(id, owner);
          const bind: MountSpec = { type: 'bind', root: r.dir, source: `/${r.name}`, target: t, readonly: false };
          return Object.assign(bind, { close: r.close });
        },
      };
    }
    default:
      throw new FlagError(`RUN --mount=type=${type} is not supported (cache, secret, bind, tmpfs and ssh are)`, line);
  }
}

function contextSourceMissing(source: string, line: number): FlagError {
  return new FlagError(
    `RUN --mount=type=bind: source "${source}" not found in the build context (or excluded by .dockerignore)`,
    line,
  );
}

/** The path `source` names inside the context, resolved by the kernel inside it (openat2 RESOLVE_IN_ROOT). */
async function resolveInContext(root: string, source: string, line: number): Promise<string> {
  const { closeFd, innerPathOf, openPathIn, openRoot } = await import('../../runtime/index.js');
  const r = openRoot(root);
  try {
    const fd = openPathIn(r, source);
    try {
      return innerPathOf(r, fd);
    } finally {
      closeFd(fd);
    }
  } catch (e) {
    if (['ENOENT', 'ENOTDIR', 'ELOOP'].includes((e as { code?: string }).code ?? ''))
      throw contextSourceMissing(source, line);
    throw e;
  } finally {
    r.close();
  }
}

/** Fails the step early, with its line, when a bind source is missing in its root (the runtime resolves it again). */
async function checkBindSource(root: string, source: string, message: () => string, line: number): Promise<void> {
  const { BindSourceError, closeFd, openBindSource } = await import('../../runtime/index.js');
  try {
    closeFd(openBindSource(root, source));
  } catch (e) {
    if (e instanceof BindSourceError) throw new FlagError(message(), line);
    throw e;
  }
}
