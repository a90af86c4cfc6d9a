// tsbuild's command line: a thin shell over the library. Each subcommand module only declares its options and
// imports its implementation lazily, so `tsbuild --version` or a no-op rebuild does not load what it doesn't use.
import { Command, CommanderError, Option } from 'commander';
import { existsSync } from 'node:fs';
import { collect, defaultRoot } from './context.js';
import { commandWord, nearest, stopOptionsAfterImage, wantsJson } from './argv.js';
import { errorEvent, formatError, exitCodeFor, InterruptedError } from './errors.js';
import { exitAfterFlush, exitNow, isExiting } from './exit.js';
import { UsageError } from './context.js';
import * as parseCmd from './commands/parse.js';
import * as storeCmds from './commands/store.js';
import * as runCmd from './commands/run.js';
import * as registryCmds from './commands/registry.js';
import * as buildCmd from './commands/build.js';
import * as whyRebuiltCmd from './commands/why-rebuilt.js';
import * as infoCmd from './commands/info.js';
import { tsbuildVersion } from './version.js';

export function makeProgram(): Command {
  const program = new Command('tsbuild');
  program
    .description('Daemonless container image builder: Dockerfile-compatible Buildfiles to OCI images')
    // the Node that runs it too: a bug report, or CI checking which Node it tested, needs both
    .version(`${tsbuildVersion()} (node ${process.version}, ${process.platform}/${process.arch})`, '-v, --version')
    .addOption(
      new Option(
        '--root <dir>',
        'store directory (env TSBUILD_ROOT, default /var/lib/tsbuild for root, else ~/.local/share/tsbuild)',
      ),
    )
    .option('--debug', 'print stack traces for errors, and the mode chosen as the first progress line')
    .addOption(
      new Option(
        '--mode <mode>',
        'root, rootless (in a user namespace) or unprivileged (copy snapshots); default auto (env TSBUILD_MODE)',
      ).choices(['auto', 'root', 'rootless', 'unprivileged']),
    )
    .option(
      '--registry-mirror <url>',
      'mirror for docker.io, tried first (repeatable; env TSBUILD_REGISTRY_MIRROR)',
      collect,
    )
    .option(
      '--insecure-registry <host[:port]>',
      'registry reached over plain HTTP (repeatable; env TSBUILD_INSECURE_REGISTRY)',
      collect,
    )
    .showHelpAfterError('(run `tsbuild --help` for usage)')
    .exitOverride();
  buildCmd.register(program);
  parseCmd.register(program);
  runCmd.register(program);
  registryCmds.register(program);
  storeCmds.register(program);
  whyRebuiltCmd.register(program);
  infoCmd.register(program);
  for (const c of program.commands) c.exitOverride();
  return program;
}

/**
 * `build` is the default command (`tsbuild -f Buildfile .`), so a mistyped command would otherwise be read as a
 * context directory. A first word that is neither a command nor an existing path, nor written as a path, is an
 * unknown command; the nearest command name is suggested.
 */
function unknownCommand(program: Command, args: string[]): UsageError | undefined {
  const first = commandWord(program, args)?.word;
  if (first === undefined || first === '-' || first.includes('/') || first.startsWith('.')) return undefined;
  const known = program.commands.flatMap((c) => [c.name(), ...c.aliases()]);
  if (known.includes(first) || existsSync(first)) return undefined;
  const near = nearest(
    first,
    program.commands.map((c) => c.name()),
  );
  return new UsageError(
    `unknown command '${first}' (and no context directory of that name)${near ? `; did you mean ${near}?` : ''}`,
    { hint: 'run `tsbuild --help` for the commands' },
  );
}

/**
 * Warnings the library raises (process.emitWarning, e.g. a restored index.json) print as our own lines, not Node's;
 * as `log` events in a JSON stream.
 */
function printWarningsPlainly(json: boolean): void {
  process.removeAllListeners('warning');
  process.on('warning', (w) =>
    process.stderr.write(
      json
        ? JSON.stringify({ type: 'log', time: Date.now(), level: 'warn', message: w.message }) + '\n'
        : `warning: ${w.message}\n`,
    ),
  );
}

/**
 * The signals a command that handles none itself ends on: streams flushed, exit 128 + n as a shell reports it. While
 * an exit already waits for a slow reader, the first signal lets it finish; a second one exits at once.
 */
function exitOnSignals(): void {
  let whileExiting = 0;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (isExiting() && ++whileExiting > 1) exitNow(InterruptedError.codeFor(sig));
      // a build or a `run` listens too: it stops its containers, cleans up, and then returns its own code
      if (process.listenerCount(sig) > 1) return;
      void exitAfterFlush(InterruptedError.codeFor(sig));
    });
  }
}

export async function main(argv: string[]): Promise<number> {
  exitOnSignals();
  const program = makeProgram();
  const args = argv.slice(2);
  const json = wantsJson(program, args);
  printWarningsPlainly(json);
  const report = (err: unknown, text: string, code: number): number => {
    process.stderr.write((json ? JSON.stringify(errorEvent(err, code)) : text) + '\n');
    return code;
  };
  if (json) {
    // commander's own messages (unknown option, missing argument) become the error event written below
    program.configureOutput({ writeErr: () => undefined, outputError: () => undefined });
    for (const c of program.commands) c.configureOutput({ writeErr: () => undefined, outputError: () => undefined });
  }
  const unknown = unknownCommand(program, args);
  if (unknown !== undefined) return report(unknown, formatError(unknown, false), 2);
  try {
    // rootless: the command runs in a child inside a user namespace, and this process leaves with its status
    const entered = await (await import('./mode.js')).enterMode(program, args);
    if (entered !== undefined) return entered;
    await program.parseAsync([...argv.slice(0, 2), ...stopOptionsAfterImage(program, args)]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version print and exit 0; everything else commander rejects is a usage error.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help')
        return 0;
      return json ? report(new UsageError(err.message.replace(/^error: /, '')), '', 2) : 2;
    }
    const debug = argv.includes('--debug');
    const storeRoot = (program.opts() as { root?: string }).root ?? process.env.TSBUILD_ROOT ?? defaultRoot();
    return report(err, formatError(err, debug, { storeRoot }), exitCodeFor(err));
  }
}

// not a top-level await: the CommonJS bundle (scripts/bundle.mjs) cannot hold one
void main(process.argv).then(
  (code) => exitAfterFlush(code),
  (err: unknown) => {
    process.stderr.write(`error: ${(err as Error)?.stack ?? String(err)}\n`);
    return exitAfterFlush(1);
  },
);
