// Reading the command line before commander does, for what commander cannot say: which word is the command (build
// is the default, so `tsbuild psuh` would be a context directory), where `tsbuild run IMAGE`'s own arguments start,
// and whether the command's output is JSON (so that even a usage error is an event).
import type { Command } from 'commander';

/** Whether the option `token` (`-u`, `--user`, not `--user=x`) of `cmd` takes the next word as its value. */
function takesValue(cmd: Command, token: string): boolean {
  const o = cmd.options.find((x) => x.long === token || x.short === token);
  return o !== undefined && (o.required || o.optional);
}

/** The index of the first word that is not an option of `cmds` (or an option's value), from `from`; -1 if none. */
export function firstPositional(cmds: Command[], args: string[], from: number): number {
  for (let i = from; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return i + 1 < args.length ? i + 1 : -1;
    if (!a.startsWith('-') || a === '-') return i;
    if (!a.includes('=') && cmds.some((c) => takesValue(c, a))) i++;
  }
  return -1;
}

/** The subcommand named on the command line (undefined for the default, build) and the index of its word. */
export function commandWord(program: Command, args: string[]): { word: string; index: number } | undefined {
  // the default command's options may come first too (`tsbuild -t app:1 .`)
  const build = program.commands.find((c) => c.name() === 'build');
  const i = firstPositional(build ? [program, build] : [program], args, 0);
  return i < 0 ? undefined : { word: args[i]!, index: i };
}

/**
 * `tsbuild run IMAGE CMD…`: everything after IMAGE is the container's command, options included (`run busybox id
 * -u`), as with `docker run`. Returns the arguments with a `--` put after IMAGE, which commander then honours.
 */
export function stopOptionsAfterImage(program: Command, args: string[]): string[] {
  const cmd = commandWord(program, args);
  if (cmd?.word !== 'run') return args;
  const run = program.commands.find((c) => c.name() === 'run');
  if (!run) return args;
  const image = firstPositional([run, program], args, cmd.index + 1);
  if (image < 0 || args[image - 1] === '--' || image + 1 >= args.length || args[image + 1] === '--') return args;
  return [...args.slice(0, image + 1), '--', ...args.slice(image + 1)];
}

/** Whether the command's progress (and so its errors) is JSON: `--progress=json` or `--progress json`. */
export function wantsJson(program: Command, args: string[]): boolean {
  const word = commandWord(program, args)?.word;
  // a word that is no command is build's context
  const sub = program.commands.find((c) => c.name() === word) ?? program.commands.find((c) => c.name() === 'build');
  if (!sub?.options.some((o) => o.long === '--progress')) return false;
  const end = args.indexOf('--');
  const own = end < 0 ? args : args.slice(0, end);
  return own.some((a, i) => a === '--progress=json' || (a === '--progress' && own[i + 1] === 'json'));
}

/** The name within two edits of `word` (none when two are as close, or for a word of under four letters). */
export function nearest(word: string, names: string[]): string | undefined {
  const scored = names.map((n) => ({ n, d: editDistance(word.toLowerCase(), n) })).sort((a, b) => a.d - b.d);
  const best = scored[0];
  if (!best || best.d > Math.min(2, Math.floor(word.length / 2))) return undefined;
  return scored[1]?.d === best.d ? undefined : best.n;
}

/** Damerau–Levenshtein (optimal string alignment): a swap of two letters (`psuh`) is one edit. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  return d[a.length]![b.length]!;
}
