// The build command's options for the user's view, declared here so cli/commands/build.ts adds them in one call.
// Imports only commander (command modules load their implementations lazily).
import { Option, type Command } from 'commander';

export interface ViewFlags {
  report?: string;
  explainCache?: boolean;
}

export function addViewOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '--report <file>',
        'write a build report: FILE.html (stage graph, step timeline) or FILE.json (the same data)',
      ),
    )
    .addOption(
      new Option('--explain-cache', 'after the build, say which input changed for every step not taken from the cache'),
    );
}
