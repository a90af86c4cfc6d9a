// tsbuild's command line: a thin shell over the library. Each subcommand module only declares its options and
// imports its implementation lazily, so `tsbuild --version` or a no-op rebuild does not load what it doesn't use.
import { Command, CommanderError, Option } from 'commander';
import { existsSync } from 'node:fs';
import { collect, DEFAULT_ROOT } from './context.js';
import { formatError, exitCodeFor } from './errors.js';
import * as parseCmd from './commands/parse.js';
import * as storeCmds from './commands/store.js';
import * as runCmd from './commands/run.js';
import * as registryCmds from './commands/registry.js';
import * as buildCmd from './commands/build.js';
import * as whyRebuiltCmd from './commands/why-rebuilt.js';
import { tsbuildVersion } from './version.js';

export function makeProgram(): Command {
  const program = new Command('tsbuild');
  program
    .description('Daemonless container image builder: Dockerfile-compatible Buildfiles to OCI images')
    // the Node that runs it too: a bug report, or CI checking which Node it tested, needs both
    .version(`${tsbuildVersion()} (node ${process.version}, ${process.platform}/${process.arch})`, '-v, --version')
    .addOption(new Option('--root <dir>', `store directory (env TSBUILD_ROOT, default ${DEFAULT_ROOT})`))
    .option('--debug', 'print stack traces for errors')
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
  for (const c of program.commands) c.exitOverride();
  return program;
}

/**
 * `build` is the default command (`tsbuild -f Buildfile .`), so a mistyped command would otherwise be read as a
 * context directory. A first word that is neither a command nor an existing path is an unknown command.
 */
function unknownCommand(program: Command, argv: string[]): string | undefined {
  const first = argv[2];
  if (first === undefined || first.startsWith('-') || first.includes('/') || first === '.') return undefined;
  const known = program.commands.flatMap((c) => [c.name(), ...c.aliases()]);
  if (known.includes(first) || existsSync(first)) return undefined;
  return first;
}

/** Warnings the library raises (process.emitWarning, e.g. a restored index.json) print as our own lines, not Node's. */
function printWarningsPlainly(): void {
  process.removeAllListeners('warning');
  process.on('warning', (w) => process.stderr.write(`warning: ${w.message}\n`));
}

export async function main(argv: string[]): Promise<number> {
  printWarningsPlainly();
  const program = makeProgram();
  const unknown = unknownCommand(program, argv);
  if (unknown !== undefined) {
    process.stderr.write(
      `error: unknown command '${unknown}' (and no context directory of that name)\n(run \`tsbuild --help\` for the commands)\n`,
    );
    return 2;
  }
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version print and exit 0; everything else commander rejects is a usage error.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help')
        return 0;
      return 2;
    }
    const debug = argv.includes('--debug');
    const storeRoot = (program.opts() as { root?: string }).root ?? process.env.TSBUILD_ROOT ?? DEFAULT_ROOT;
    process.stderr.write(formatError(err, debug, { storeRoot }) + '\n');
    return exitCodeFor(err);
  }
}

// not a top-level await: the CommonJS bundle (scripts/bundle.mjs) cannot hold one
void main(process.argv).then((code) => process.exit(code));
