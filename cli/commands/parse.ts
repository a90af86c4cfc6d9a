// `tsbuild parse FILE [--json]`: prints the parsed instructions (BuildKit's dump format, or the JSON contract).
import type { Command } from 'commander';
import type { Instruction } from '../../parser/index.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function readBuildfile(file: string): Promise<string> {
  if (file === '-') return readStdin();
  const { readFile } = await import('node:fs/promises');
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`cannot read Buildfile ${file}: no such file`);
    if (code === 'EISDIR') throw new Error(`cannot read Buildfile ${file}: it is a directory`);
    throw e;
  }
}

/** The `--json` contract: field names are stable (see parser/types.ts). */
function toJson(i: Instruction): unknown {
  return {
    keyword: i.keyword,
    line: i.line,
    column: i.column,
    endLine: i.endLine,
    flags: i.flags,
    args: i.args,
    json: i.json,
    heredocs: i.heredocs,
    onbuild: i.onbuild ? toJson(i.onbuild) : null,
    original: i.original,
  };
}

export function register(program: Command): void {
  program
    .command('parse')
    .description('parse a Buildfile and print its instructions (FILE - reads stdin)')
    .argument('<file>', 'the Buildfile to parse, or - for stdin')
    .option('--json', 'print directives and instructions (with positions) as JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      const text = await readBuildfile(file);
      const { parseBuildfile, dumpInstruction } = await (await import('../../parser/index.js')).loadParser();
      // Errors (BuildfileError) propagate to cli/main.ts, which prints render() and exits 1.
      const result = parseBuildfile(text, file === '-' ? '<stdin>' : file);
      if (opts.json) {
        const doc = { directives: result.directives, instructions: result.instructions.map(toJson) };
        process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
      } else {
        process.stdout.write(result.instructions.map((i) => dumpInstruction(i) + '\n').join(''));
      }
    });
}
