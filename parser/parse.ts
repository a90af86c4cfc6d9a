// The driver: reads physical lines the way BuildKit's parser does (directives, comments, continuations, empty
// continuation lines, heredoc bodies), hands each logical line to the Chevrotain line grammar, splits the
// arguments per instruction, validates, and keeps every position exact.
import type { Instruction, ParseResult } from './types.js';
import { BuildfileError } from './errors.js';
import { DirectiveState } from './directives.js';
import { heredocMarkers, makeHeredoc, type HeredocMarker } from './heredoc.js';
import { ArgsError, KEYWORDS, parseArgs } from './line-parsers.js';
import { locate, SourceLines, type Segment } from './source.js';
import { trimLeft } from './text.js';
import { splitInstructionLine } from './to-instructions.js';
import { validateInstruction } from './validate.js';
import { ExpandError } from './expand.js';

export interface ParseOptions {
  /**
   * Check flags and argument counts as BuildKit does when it builds typed commands (default true). Turn off to
   * get BuildKit's raw parse tree, which accepts any flag on any instruction.
   */
  validate?: boolean;
}

const HEREDOC_KEYWORDS = new Set(['RUN', 'COPY', 'ADD']);

function trimNewline(s: string): string {
  return s.replace(/[\r\n]+$/, '');
}

function isCommentLine(raw: string): boolean {
  return trimLeft(trimNewline(raw)).startsWith('#');
}

function continuationRegex(escape: string): RegExp {
  const e = escape === '`' ? '`' : '\\\\';
  return new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`);
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** The known keyword closest to a misspelt one, when it is close enough to be a likely typo. */
function suggestKeyword(word: string): string | null {
  let best: string | null = null;
  let bestDistance = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const k of KEYWORDS) {
    const d = editDistance(word, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

/** Per-instruction offsets needed to place errors (kept beside the public objects). */
interface Placed {
  segments: Segment[];
  keywordOffset: number;
  flagOffsets: number[];
}

class Parser {
  private readonly src: SourceLines;
  private readonly directives = new DirectiveState();
  private readonly placed = new WeakMap<Instruction, Placed>();
  private next = 0; // index of the next physical line to read
  private contEscape = '\\';
  private contRe = continuationRegex('\\');

  constructor(
    text: string,
    private readonly file: string,
    private readonly opts: ParseOptions,
  ) {
    this.src = new SourceLines(text);
  }

  private error(message: string, line: number, column: number): BuildfileError {
    return new BuildfileError(message, { file: this.file, line, column, sourceLine: this.src.display(line) });
  }

  private errorAt(segments: Segment[], offset: number, message: string): BuildfileError {
    const p = locate(segments, offset);
    return this.error(message, p.line, p.column);
  }

  /** processLine: trims the line ending (and leading blanks on an instruction's first line), drops comments. */
  private processLine(raw: string, lineNo: number, stripLeft: boolean): string {
    let token = trimNewline(raw);
    if (stripLeft) token = trimLeft(token);
    const err = this.directives.feed(token);
    if (err) throw this.error(err, lineNo, 1);
    const esc = this.directives.directives.escape;
    if (esc !== this.contEscape) {
      this.contEscape = esc;
      this.contRe = continuationRegex(esc);
    }
    return token.startsWith('#') ? '' : token;
  }

  private trimContinuation(line: string): { text: string; end: boolean } {
    const m = this.contRe.exec(line);
    if (!m) return { text: line, end: true };
    return { text: line.slice(0, m.index) + (m[1] ?? ''), end: false };
  }

  parse(): ParseResult {
    const instructions: Instruction[] = [];
    const raw = this.src.raw;
    while (this.next < raw.length) {
      const rawLine = raw[this.next]!;
      const lineNo = ++this.next;
      const processed = this.processLine(rawLine, lineNo, true);
      const lead = trimNewline(rawLine).length - trimLeft(trimNewline(rawLine)).length;
      let { text: line, end } = this.trimContinuation(processed);
      if (end && line === '') continue;
      const startLine = lineNo;
      const segments: Segment[] = [{ at: 0, line: lineNo, col: lead }];
      while (!end && this.next < raw.length) {
        const r = raw[this.next]!;
        const n = ++this.next;
        const p = this.processLine(r, n, false);
        if (isCommentLine(r)) continue;
        if (trimLeft(p) === '') continue; // an empty continuation line
        const t = this.trimContinuation(p);
        segments.push({ at: line.length, line: n, col: 0 });
        line += t.text;
        end = t.end;
      }
      const instr = this.instruction(line, segments, 0);
      if (!instr) continue;
      this.readHeredocs(instr, line, segments);
      // instr.line is the keyword's line: the start line, unless the instruction began with a bare escape line.
      instr.endLine = this.next;
      instr.original = this.original(startLine, this.next);
      if (instr.onbuild) instr.onbuild.endLine = this.next;
      if (this.opts.validate !== false) this.validate(instr);
      instructions.push(instr);
    }
    if (instructions.length === 0) {
      const last = Math.max(1, this.src.count);
      throw this.error('file with no instructions', last, 1);
    }
    return { file: this.file, directives: { ...this.directives.directives }, instructions };
  }

  private original(from: number, to: number): string {
    const lines: string[] = [];
    for (let n = from; n <= to; n++) lines.push(this.src.display(n));
    return lines.join('\n');
  }

  /** One logical line (or its ONBUILD remainder, starting at `base`) as an instruction without heredocs. */
  private instruction(line: string, segments: Segment[], base: number, inOnbuild = false): Instruction | null {
    const split = splitInstructionLine(line.slice(base));
    if (!split) return null;
    const kwAt = base + split.keywordOffset;
    const keyword = split.keyword.toUpperCase();
    const pos = locate(segments, kwAt);
    if (!KEYWORDS.has(keyword)) {
      const hint = suggestKeyword(keyword);
      throw this.errorAt(
        segments,
        kwAt,
        `unknown instruction: ${split.keyword}${hint ? ` (did you mean ${hint}?)` : ''}`,
      );
    }
    const instr: Instruction = {
      keyword,
      line: pos.line,
      column: pos.column,
      endLine: pos.line,
      flags: split.flags.map((f) => f.text),
      args: [],
      json: false,
      heredocs: [],
      onbuild: null,
      original: '',
    };
    this.placed.set(instr, { segments, keywordOffset: kwAt, flagOffsets: split.flags.map((f) => base + f.offset) });
    if (keyword === 'ONBUILD') {
      // A chained ONBUILD is refused by validation; its trigger is not parsed, so `ONBUILD ONBUILD …` thousands of
      // times does not recurse thousands deep.
      if (split.rest !== '' && !inOnbuild) {
        const inner = this.instruction(line, segments, base + split.restOffset, true);
        if (inner) {
          inner.original = split.rest;
          instr.onbuild = inner;
        }
      }
      return instr;
    }
    try {
      const parsed = parseArgs(keyword, split.rest, this.directives.directives.escape);
      instr.args = parsed.args;
      instr.json = parsed.json;
    } catch (e) {
      if (!(e instanceof ArgsError)) throw e;
      const wordAt = e.word ? line.indexOf(e.word, base + split.restOffset) : -1;
      throw this.errorAt(segments, wordAt >= 0 ? wordAt : base + split.restOffset, e.message);
    }
    return instr;
  }

  private readHeredocs(instr: Instruction, line: string, segments: Segment[]): void {
    const target = instr.onbuild ?? instr;
    if (!HEREDOC_KEYWORDS.has(target.keyword) || target.json) return;
    let markers: HeredocMarker[];
    try {
      markers = heredocMarkers(line);
    } catch (e) {
      if (e instanceof ExpandError) throw this.errorAt(segments, 0, e.message);
      throw e;
    }
    const raw = this.src.raw;
    for (const marker of markers) {
      const body: string[] = [];
      let terminated = false;
      while (this.next < raw.length) {
        const r = raw[this.next++]!;
        let candidate = trimNewline(r);
        if (marker.chomp) candidate = candidate.replace(/^\t+/, '');
        if (candidate === marker.name) {
          terminated = true;
          break;
        }
        body.push(r.endsWith('\r') ? r.slice(0, -1) : r);
      }
      if (!terminated) {
        const at = line.search(new RegExp(`<<-?["']?${marker.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
        throw this.errorAt(
          segments,
          at >= 0 ? at : 0,
          `unterminated heredoc ${marker.name} (no line equal to ${JSON.stringify(marker.name)} before the end of the file)`,
        );
      }
      const doc = makeHeredoc(marker, body);
      instr.heredocs.push(doc);
      if (instr.onbuild) {
        // The trigger text stored in an image must carry its heredoc, as BuildKit's parseOnBuild does.
        instr.onbuild.heredocs.push(doc);
        instr.onbuild.original += '\n' + doc.content + doc.name;
      }
    }
  }

  private validate(instr: Instruction): void {
    const issue = validateInstruction(instr);
    if (!issue) return;
    const target = issue.inner && instr.onbuild ? instr.onbuild : instr;
    const p = this.placed.get(target)!;
    const offset = issue.flag !== undefined ? p.flagOffsets[issue.flag]! : p.keywordOffset;
    throw this.errorAt(p.segments, offset, issue.message);
  }
}

/** Parses Buildfile text into instructions with positions; throws BuildfileError with file:line:column. */
export function parseBuildfile(text: string, file = 'Buildfile', opts: ParseOptions = {}): ParseResult {
  return new Parser(text, file, opts).parse();
}
