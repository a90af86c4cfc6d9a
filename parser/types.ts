// The parser's output: typed, unexpanded instructions with source positions. This shape is also the
// `tsbuild parse --json` contract that later tooling reads (see issue 2); keep the field names stable.

export interface SourceRange {
  /** 1-based line of the instruction keyword. */
  line: number;
  /** 1-based column of the instruction keyword. */
  column: number;
  /** 1-based last line the instruction spans (continuations and heredoc bodies included). */
  endLine: number;
}

export interface Heredoc {
  /** The delimiter word, without quotes. */
  name: string;
  /** The body, lines joined with "\n", ending with "\n" when non-empty (as BuildKit gives it). */
  content: string;
  /** False when the delimiter was quoted (`<<"EOF"` / `<<'EOF'`): no variable expansion in the body. */
  expand: boolean;
  /** True for `<<-EOF`: leading tabs were stripped from every body line. */
  chomp: boolean;
}

export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY, … */
  keyword: string;
  line: number;
  column: number;
  endLine: number;
  /** Flags as written (`--from=build`), in order, unexpanded. */
  flags: string[];
  /**
   * Arguments as BuildKit's parser splits them, unexpanded: ENV/LABEL as `name, value, sep` triples, exec form as
   * its JSON strings, shell form as one string, HEALTHCHECK as `CMD` + command, ONBUILD empty (see `onbuild`).
   */
  args: string[];
  /** True when the exec (JSON array) form was used. */
  json: boolean;
  heredocs: Heredoc[];
  /** For ONBUILD: the wrapped instruction. */
  onbuild: Instruction | null;
  /** The instruction's source text as written (all its lines), for messages and history. */
  original: string;
}

export interface Directives {
  escape: string;
  syntax: string | null;
  check?: string | null;
}

export interface ParseResult {
  file: string;
  directives: Directives;
  instructions: Instruction[];
}
