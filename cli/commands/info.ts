// `tsbuild info [--json]`: the mode this user gets here and why (runtime/mode.ts decides): version, mode, snapshots,
// isolation, id mapping, store root, run dir, and one reason line per decision. It probes but changes nothing.
import { Option, type Command } from 'commander';
import { globalOptions } from '../context.js';
import { tsbuildVersion } from '../version.js';

export function register(program: Command): void {
  program
    .command('info')
    .description('print the mode tsbuild runs in here (root, rootless, unprivileged), its settings, and why')
    .addOption(
      new Option('--isolation <mode>', 'the isolation to check (as build and run take it)').choices([
        'auto',
        'chroot',
        'pivot',
        'none',
      ]),
    )
    .option('--json', 'print one JSON object')
    .action(async (opts: { json?: boolean; isolation?: 'auto' | 'chroot' | 'pivot' | 'none' }, command: Command) => {
      const g = globalOptions(command);
      const { currentMode, currentRunDir } = await import('../mode.js');
      const { formatIdMap } = await import('../../runtime/index.js');
      const d = await currentMode(opts.isolation);
      const info = {
        version: tsbuildVersion(),
        mode: d.mode,
        snapshots: d.snapshots,
        isolation: d.isolation,
        idMapping: d.uidMap ? formatIdMap(d.uidMap) : 'none (host ids)',
        ...(d.gidMap ? { gidMapping: formatIdMap(d.gidMap) } : {}),
        storeRoot: g.root,
        runDir: await currentRunDir(),
        reasons: d.reasons,
        warnings: d.warnings,
      };
      if (opts.json) {
        process.stdout.write(JSON.stringify(info, null, 2) + '\n');
        return;
      }
      const lines = [
        `version:    ${info.version}`,
        `mode:       ${info.mode}`,
        `snapshots:  ${info.snapshots}`,
        `isolation:  ${info.isolation}`,
        `id mapping: ${info.idMapping}${info.gidMapping ? ` (gids ${info.gidMapping})` : ''}`,
        `store root: ${info.storeRoot}`,
        `run dir:    ${info.runDir}`,
        ...info.reasons.map((r) => `reason:     ${r}`),
        ...info.warnings.map((w) => `warning:    ${w}`),
      ];
      process.stdout.write(lines.join('\n') + '\n');
    });
}
