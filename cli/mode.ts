// The mode a command runs in (runtime/mode.ts decides), chosen once before the command runs. Root with
// CAP_SYS_ADMIN decides without probing (nothing changes for it); anyone else gets their XDG store and run dir, and
// for `rootless` the CLI runs itself again inside the user namespace (runtime/reexec.ts): that child reads the
// decision from TSBUILD_MODE_STATE instead of deciding again.
import type { Command } from 'commander';
import { mkdirSync, readFileSync } from 'node:fs';
// The runtime is imported only once a command needs it: `--version` and `parse` load none of it.
import { UsageError } from '../oci/index.js';
import type { IsolationRequest, ModeDecision, ModeFacts, ModeRequest } from '../runtime/index.js';
import { commandWord } from './argv.js';
import { defaultRoot } from './context.js';

export const MODES = ['auto', 'root', 'rootless', 'unprivileged'] as const;
const STATE_ENV = 'TSBUILD_MODE_STATE';
/** Set in the re-executed child: it is inside the user namespace already (and must not enter another). */
const REEXEC_ENV = 'TSBUILD_USERNS';
/** Set in a rootless build's first process while it tries the cache before entering the user namespace. */
const PENDING_ENV = 'TSBUILD_USERNS_PENDING';
const ROOTLESS_ROOT_RUN_DIR = '/run/tsbuild-rootless';
const rt = () => import('../runtime/index.js');

/** Commands that touch no store and start no container: they run where they are. */
const OUTSIDE = new Set(['parse', 'info', 'why-rebuilt', 'login', 'logout', 'help']);

/** `--mode X`/`--mode=X` anywhere before `--`, else TSBUILD_MODE, else auto; an unknown value is a usage error. */
export function requestedMode(args: string[], env: NodeJS.ProcessEnv = process.env): ModeRequest {
  let v: string | undefined;
  for (let i = 0; i < args.length && args[i] !== '--'; i++) {
    if (args[i] === '--mode') v = args[i + 1];
    else if (args[i]!.startsWith('--mode=')) v = args[i]!.slice('--mode='.length);
  }
  v ??= env.TSBUILD_MODE || 'auto';
  if (!(MODES as readonly string[]).includes(v))
    throw new UsageError(`unknown mode '${v}' (--mode or TSBUILD_MODE)`, { hint: `use one of: ${MODES.join(', ')}` });
  return v as ModeRequest;
}

/** What a decision is made from; passed to the re-executed child, which decides the same way from it. */
interface ModeState {
  facts: ModeFacts;
  want: ModeRequest;
}

let state: ModeState | undefined;

async function modeState(): Promise<ModeState> {
  if (state) return state;
  const s = process.env[REEXEC_ENV] === '1' || process.env.TSBUILD_RUN_DIR ? process.env[STATE_ENV] : undefined;
  if (s) return (state = JSON.parse(s) as ModeState);
  const want = requestedMode(process.argv.slice(2));
  const { probeFacts, userRunDir } = await rt();
  const cacheDir = (process.geteuid?.() ?? 0) === 0 ? undefined : userRunDir();
  return (state = { facts: probeFacts(cacheDir, want, storeRoot(process.argv.slice(2))), want });
}

/** The decision this process runs under, for the isolation a command was given. */
export async function currentMode(isolation: IsolationRequest = 'auto'): Promise<ModeDecision> {
  const s = await modeState();
  return (await rt()).decideMode(s.facts, s.want, isolation);
}

/**
 * Enters the chosen mode before `program` parses `args`: returns the exit code when the command ran in a child
 * (rootless), or undefined to run it here.
 */
export async function enterMode(program: Command, args: string[]): Promise<number | undefined> {
  if (process.env[REEXEC_ENV] === '1') return undefined;
  if (args.some((a) => a === '-h' || a === '--help' || a === '-v' || a === '--version')) return undefined;
  const word = commandWord(program, args)?.word;
  const command = program.commands.find((c) => c.name() === word || c.aliases().includes(word ?? ''))?.name();
  const want = requestedMode(args);
  if (command !== undefined && OUTSIDE.has(command)) return undefined;
  const euid = process.geteuid?.() ?? 0;
  if (euid === 0 && want === 'auto' && hasSysAdmin()) return undefined;
  const { decideMode, probeFacts, runInUserNamespace, userRunDir } = await rt();
  // root's rootless run keeps apart from its root runs: another mount namespace's mounts are not ours to clean
  const runDir = euid === 0 ? ROOTLESS_ROOT_RUN_DIR : userRunDir();
  // root's run dir is made here, so its probe is cached like a user's (the user's run dir is made by userRunDir)
  if (euid === 0) mkdirSync(runDir, { recursive: true, mode: 0o700 });
  state = { facts: probeFacts(runDir, want, storeRoot(args)), want };
  const decision = decideMode(state.facts, want);
  if (decision.mode === 'root') return undefined;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TSBUILD_RUN_DIR: runDir,
    TSBUILD_HOST_USER: state.facts.user,
    [STATE_ENV]: JSON.stringify(state),
    [REEXEC_ENV]: '1',
  };
  if (euid !== 0 && !env.TSBUILD_ROOT && !args.some((a) => a === '--root' || a.startsWith('--root=')))
    env.TSBUILD_ROOT = defaultRoot();
  for (const w of decision.warnings) process.emitWarning(w);
  if (decision.mode === 'unprivileged') {
    Object.assign(process.env, env);
    return undefined;
  }
  const enter = (): Promise<number> => runInUserNamespace([process.execPath, process.argv[1]!, ...args], env, decision);
  if (!deferrable(word, command, args)) return enter();
  // A build tries here first, only as far as the cache carries it (cli/commands/build.ts): a rebuild where every
  // step is a hit needs no namespace, and entering one costs a second Node start. Anything else enters it then.
  // This process's store is the rootless one (its overlay xattrs are user.*: store/layer-tar/whiteouts.ts).
  const { [REEXEC_ENV]: _inside, ...here } = env;
  Object.assign(process.env, here, { [PENDING_ENV]: '1' });
  deferred = enter;
  return undefined;
}

let deferred: (() => Promise<number>) | undefined;

/**
 * The user namespace this rootless build has not entered yet, or undefined (root, unprivileged, inside it already).
 * Taken once: the build calls it, as a command, when its cached-only attempt stops.
 */
export function takeDeferredNamespace(): (() => Promise<number>) | undefined {
  const d = deferred;
  deferred = undefined;
  return d;
}

/** A build whose inputs can be read twice: not stdin (`-` as context or Buildfile), not --no-cache (no hit). */
function deferrable(word: string | undefined, command: string | undefined, args: string[]): boolean {
  // no word: no context either; a word that names no command is build's context
  if (word === undefined || (command !== undefined && command !== 'build')) return false;
  const end = args.indexOf('--');
  const own = end < 0 ? args : args.slice(0, end);
  return !own.some((a) => a === '-' || a === '--file=-' || a === '-f-' || a === '--no-cache');
}

/** The store root a command will use (`--root`, TSBUILD_ROOT, the default): the overlay probe runs on its fs. */
function storeRoot(args: string[], env: NodeJS.ProcessEnv = process.env): string {
  for (let i = 0; i < args.length && args[i] !== '--'; i++) {
    if (args[i] === '--root' && args[i + 1] !== undefined) return args[i + 1]!;
    if (args[i]!.startsWith('--root=')) return args[i]!.slice('--root='.length);
  }
  return env.TSBUILD_ROOT || defaultRoot(env);
}

function hasSysAdmin(): boolean {
  // CAP_SYS_ADMIN is bit 21 of CapEff
  const m = /^CapEff:\s*([0-9a-f]+)/m.exec(readStatus());
  return m !== null && (BigInt(`0x${m[1]}`) & (1n << 21n)) !== 0n;
}

function readStatus(): string {
  try {
    return readFileSync('/proc/self/status', 'utf8');
  } catch {
    return '';
  }
}

/** One line for `--debug`: the mode, snapshots, isolation and id mapping, then the reasons. */
export async function modeLine(d: ModeDecision): Promise<string> {
  const { formatIdMap } = await rt();
  return `mode ${d.mode} (snapshots ${d.snapshots}, isolation ${d.isolation}${d.uidMap ? `, ids ${formatIdMap(d.uidMap)}` : ''}): ${d.reasons.join('; ')}`;
}

/** The run dir this process's containers use: the user's, or root's /run/tsbuild. */
export async function currentRunDir(): Promise<string> {
  if (process.env.TSBUILD_RUN_DIR) return process.env.TSBUILD_RUN_DIR;
  const { DEFAULT_RUN_DIR, userRunDir } = await rt();
  if ((process.geteuid?.() ?? 0) !== 0) return userRunDir();
  return (await currentMode()).mode === 'rootless' ? ROOTLESS_ROOT_RUN_DIR : DEFAULT_RUN_DIR;
}
