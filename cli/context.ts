import type { Command } from 'commander';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Options every subcommand inherits from the program (`tsbuild --root DIR <cmd>` or `<cmd> --root DIR`). */
export interface GlobalOptions {
  root: string;
  debug: boolean;
  registryMirrors: string[];
  insecureRegistries: string[];
}

export const DEFAULT_ROOT = '/var/lib/tsbuild';

/**
 * The store when neither --root nor TSBUILD_ROOT names one: root's /var/lib/tsbuild, and for anyone else the XDG
 * layout, $XDG_DATA_HOME/tsbuild (~/.local/share/tsbuild), as podman's.
 */
export function defaultRoot(env: NodeJS.ProcessEnv = process.env, euid = process.geteuid?.() ?? 0): string {
  if (euid === 0) return DEFAULT_ROOT;
  return join(env.XDG_DATA_HOME || join(env.HOME || homedir(), '.local', 'share'), 'tsbuild');
}

function splitList(v: string | undefined): string[] {
  return (v ?? '').split(/[,\s]+/).filter(Boolean);
}

/** Reads the global options as seen from any (sub)command, with env fallbacks. */
export function globalOptions(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals() as {
    root?: string;
    debug?: boolean;
    registryMirror?: string[];
    insecureRegistry?: string[];
  };
  return {
    root: o.root ?? process.env.TSBUILD_ROOT ?? defaultRoot(),
    debug: o.debug ?? false,
    registryMirrors: [...(o.registryMirror ?? []), ...splitList(process.env.TSBUILD_REGISTRY_MIRROR)],
    insecureRegistries: [...(o.insecureRegistry ?? []), ...splitList(process.env.TSBUILD_INSECURE_REGISTRY)],
  };
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Thrown for bad command-line usage; the CLI exits 2 (the class is oci/'s, so parts below can throw it too). */
export { UsageError } from '../oci/index.js';
