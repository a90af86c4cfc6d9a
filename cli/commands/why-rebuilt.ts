// `tsbuild why-rebuilt [EVENTS]`: which input made each rebuilt step miss the cache, read from a build's
// `--progress=json` output or its `--report FILE.json` (stdin when EVENTS is `-` or absent).
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('why-rebuilt')
    .description(
      'explain, for each step that was not cached, which input changed (from --progress=json output or --report FILE.json)',
    )
    .argument('[events]', 'file of JSON build events, or a report JSON; `-` for stdin', '-')
    .action(async (file: string) => {
      const { readEventLog, explainCache, formatExplanation, countSteps } = await import('../explain.js');
      const events = await readEventLog(file);
      process.stdout.write(formatExplanation(explainCache(events), countSteps(events)) + '\n');
    });
}
