// `--explain-cache` and `tsbuild why-rebuilt`: for every step that did not come from the cache, which input changed.
// Reads the builder's `cache-miss` events; their `reason` strings follow one vocabulary (see REASONS), and a step
// whose parent changed is traced back to the step that started the chain of rebuilds.
import { readFile } from 'node:fs/promises';
import type { BuildEvent, StepRef } from '../builder/index.js';

export type MissKind =
  | 'no-record'
  | 'no-cache'
  | 'instruction'
  | 'file'
  | 'arg'
  | 'env'
  | 'base'
  | 'parent'
  | 'other'
  | 'unknown'
  /** Inferred from the events: the stage this one starts FROM, or the stage a COPY --from reads, was rebuilt. */
  | 'base-stage'
  | 'copy-source';

/** The `cache-miss` reasons the builder emits, by prefix, and what they mean. */
export const REASONS: { prefix: string; kind: MissKind; meaning: string }[] = [
  {
    prefix: 'no cache record',
    kind: 'no-record',
    meaning: 'never built before with these inputs (or the cache was pruned)',
  },
  { prefix: 'cache disabled', kind: 'no-cache', meaning: '--no-cache or --no-cache-filter' },
  {
    prefix: 'instruction changed',
    kind: 'instruction',
    meaning: 'the instruction text (after variable expansion) differs',
  },
  {
    prefix: 'file changed',
    kind: 'file',
    meaning: '`file changed: PATH` — a COPY/ADD source differs (content, mode, owner)',
  },
  {
    prefix: 'build arg changed',
    kind: 'arg',
    meaning: '`build arg changed: NAME` — a --build-arg used by the step differs',
  },
  { prefix: 'env changed', kind: 'env', meaning: '`env changed: NAME` — an ENV value the step sees differs' },
  {
    prefix: 'base image changed',
    kind: 'base',
    meaning: '`base image changed: REF` — FROM resolved to a different image',
  },
  {
    prefix: 'parent changed',
    kind: 'parent',
    meaning: 'an earlier step of the stage (or the stage it copies from) was rebuilt',
  },
];

export interface CacheExplanation {
  step: StepRef;
  kind: MissKind;
  /** The builder's reason, as emitted (`file changed: src/app.ts`). */
  reason: string;
  /** What follows the prefix: the path, arg name, or image. */
  subject?: string;
  /** For `parent`: where the chain of rebuilds began (in this stage, or in the stage it starts `FROM`). */
  cause?: { step: StepRef; reason: string };
}

export function classifyReason(reason: string): { kind: MissKind; subject?: string } {
  const r = reason.trim();
  for (const x of REASONS) {
    if (r === x.prefix || r.startsWith(x.prefix + ':') || r.startsWith(x.prefix + ' ')) {
      const rest = r.slice(x.prefix.length).replace(/^[:\s]+/, '');
      return rest ? { kind: x.kind, subject: rest } : { kind: x.kind };
    }
  }
  return { kind: 'other' };
}

const key = (s: StepRef) => `${s.stage}\u0000${s.index}`;

/** One explanation per step that ran (was not cached), in the order the steps ran. */
export function explainCache(events: BuildEvent[]): CacheExplanation[] {
  const reasons = new Map<string, string>();
  const ran: StepRef[] = [];
  const seen = new Set<string>();
  const cached = new Set<string>();
  for (const e of events) {
    if (e.type === 'cache-miss') reasons.set(key(e.step), e.reason);
    else if (e.type === 'step-cached') cached.add(key(e.step));
    else if (e.type === 'step-end' && e.cached) cached.add(key(e.step));
    else if ((e.type === 'step-start' || e.type === 'step-end') && !seen.has(key(e.step))) {
      seen.add(key(e.step));
      ran.push(e.step);
    }
  }
  const stages = new Set(ran.map((s) => s.stage));
  const find = (stage: string, index: number) => ran.find((s) => s.stage === stage && s.index === index);
  const rebuilt = (s: StepRef | undefined): s is StepRef => s !== undefined && !cached.has(key(s));
  const done = new Map<string, CacheExplanation>();
  // Where the rebuilds of a step began: its own explanation's cause if it has one, else the step itself.
  const origin = (s: StepRef): { step: StepRef; reason: string } => {
    const x = done.get(key(s));
    return x?.cause ?? { step: s, reason: x?.reason ?? reasons.get(key(s)) ?? 'no reason recorded' };
  };
  // The first rebuilt step of a stage (stages run after the stages they depend on, so it is explained already).
  const stageOrigin = (stage: string) => {
    const first = ran.filter((s) => s.stage === stage && rebuilt(s)).sort((a, b) => a.index - b.index)[0];
    return first ? origin(first) : undefined;
  };
  // A step with no cache record whose own stage was cached up to it: did its base stage or COPY source change?
  const infer = (step: StepRef): Pick<CacheExplanation, 'kind' | 'subject' | 'cause'> | undefined => {
    const from = /^(?:COPY|ADD)\s+(?:--\S+\s+)*?--from=(\S+)/i.exec(step.instruction)?.[1];
    if (from !== undefined && stages.has(from) && from !== step.stage) {
      const cause = stageOrigin(from);
      if (cause) return { kind: 'copy-source', subject: from, cause };
    }
    for (let i = 1; i < step.index; i++) if (rebuilt(find(step.stage, i))) return undefined;
    const base = /^FROM\s+(?:--\S+\s+)*(\S+)/i.exec(find(step.stage, 1)?.instruction ?? '')?.[1];
    if (base !== undefined && stages.has(base) && base !== step.stage) {
      const cause = stageOrigin(base);
      if (cause) return { kind: 'base-stage', subject: base, cause };
    }
    return undefined;
  };
  const out: CacheExplanation[] = [];
  for (const step of ran) {
    if (cached.has(key(step))) continue;
    const reason = reasons.get(key(step));
    let x: CacheExplanation;
    if (reason === undefined) x = { step, kind: 'unknown', reason: 'no reason recorded' };
    else {
      const c = classifyReason(reason);
      x = { step, kind: c.kind, reason };
      if (c.subject !== undefined) x.subject = c.subject;
    }
    if (x.kind === 'parent') {
      // Back through the stage to the first of this run of rebuilt steps, then to where that one's rebuild began.
      let first: StepRef | undefined;
      for (let i = step.index - 1; i >= 1 && rebuilt(find(step.stage, i)); i--) first = find(step.stage, i);
      const cause = first ? origin(first) : infer(step)?.cause;
      if (cause) x.cause = cause;
    } else if (x.kind === 'no-record' || x.kind === 'unknown' || x.kind === 'base') {
      // `base image changed: stage NAME …` or no reason of its own: say which step of the base stage changed.
      const inferred = infer(step);
      if (inferred) x = { ...x, ...inferred };
    }
    done.set(key(step), x);
    out.push(x);
  }
  return out;
}

function name(s: StepRef): string {
  return `[${s.stage} ${s.index}/${s.total}]`;
}

/** Why one step was rebuilt, as a phrase (`file changed: src/main.c`, `parent changed: [0 2/5] was rebuilt (…)`). */
export function describeMiss(x: CacheExplanation): string {
  const cause = x.cause ? `${name(x.cause.step)} (${x.cause.reason})` : '?';
  switch (x.kind) {
    case 'file':
      return `file changed: ${x.subject ?? '?'}`;
    case 'arg':
      return `build arg changed: ${x.subject ?? '?'}`;
    case 'env':
      return `env changed: ${x.subject ?? '?'}`;
    case 'base':
      return `base image changed${x.subject ? ': ' + x.subject : ''}`;
    case 'instruction':
      return 'the instruction changed';
    case 'no-record':
      return 'no cache record for its inputs (its instruction, the files it copies or the build args it sees changed; or it never ran with this store)';
    case 'no-cache':
      return 'cache disabled (--no-cache)';
    case 'base-stage':
      return `its base stage ${x.subject ?? '?'} was rebuilt: ${cause}`;
    case 'copy-source':
      return `the stage it copies from (${x.subject ?? '?'}) was rebuilt: ${cause}`;
    case 'parent':
      return x.cause
        ? `parent changed: ${name(x.cause.step)} was rebuilt (${x.cause.reason})`
        : `parent changed${x.subject ? ': ' + x.subject : ''}`;
    default:
      return x.reason;
  }
}

/** The human-readable answer, one block per rebuilt step. */
export function formatExplanation(list: CacheExplanation[], stepsTotal?: number): string {
  if (list.length === 0) return 'Every step came from the cache: nothing was rebuilt.';
  const lines = [
    `Rebuilt ${list.length}${stepsTotal !== undefined ? ` of ${stepsTotal}` : ''} step${list.length === 1 ? '' : 's'}:`,
  ];
  for (const x of list) {
    lines.push(`  ${name(x.step)} ${x.step.instruction.split('\n')[0]}  (line ${x.step.line})`);
    lines.push(`      because ${describeMiss(x)}`);
  }
  return lines.join('\n');
}

/** An event log that cannot be read: not JSON lines of build events, nor a `--report` JSON. */
export class EventLogError extends Error {
  override name = 'EventLogError';
  constructor(
    message: string,
    readonly file: string,
    readonly line?: number,
  ) {
    super(message);
  }
  render(): string {
    return `${this.file}${this.line !== undefined ? ':' + this.line : ''}: ${this.message}`;
  }
}

interface ReportLike {
  schema: string;
  steps: {
    stage: string;
    index: number;
    total: number;
    instruction: string;
    line: number;
    startMs: number;
    cached: boolean;
    cacheMiss?: string;
  }[];
}

/** Parses `--progress=json` output (one event per line; other lines are skipped) or a `--report FILE.json`. */
export function parseEventLog(text: string, file: string): BuildEvent[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('{') && trimmed.includes('"tsbuild-report/v1"')) {
    let report: ReportLike;
    try {
      report = JSON.parse(trimmed) as ReportLike;
    } catch {
      report = { schema: '', steps: [] };
    }
    if (report.schema === 'tsbuild-report/v1') return reportToEvents(report);
  }
  const events: BuildEvent[] = [];
  text.split('\n').forEach((raw, i) => {
    const l = raw.trim();
    if (!l.startsWith('{')) return;
    let v: unknown;
    try {
      v = JSON.parse(l);
    } catch (err) {
      throw new EventLogError(`not a JSON event: ${(err as Error).message}`, file, i + 1);
    }
    if (typeof v === 'object' && v !== null && typeof (v as { type?: unknown }).type === 'string')
      events.push(v as BuildEvent);
  });
  if (events.length === 0)
    throw new EventLogError(
      'no build events found (expected the output of `tsbuild build --progress=json`, or a --report FILE.json)',
      file,
    );
  return events;
}

function reportToEvents(r: ReportLike): BuildEvent[] {
  const events: BuildEvent[] = [];
  for (const s of r.steps) {
    const step: StepRef = { stage: s.stage, index: s.index, total: s.total, instruction: s.instruction, line: s.line };
    if (s.cached) {
      events.push({ type: 'step-cached', time: s.startMs, step });
      continue;
    }
    if (s.cacheMiss !== undefined) events.push({ type: 'cache-miss', time: s.startMs, step, reason: s.cacheMiss });
    events.push({ type: 'step-start', time: s.startMs, step });
  }
  return events;
}

export async function readEventLog(file: string): Promise<BuildEvent[]> {
  let text: string;
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    text = Buffer.concat(chunks).toString('utf8');
  } else {
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new EventLogError(`cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, file);
    }
  }
  return parseEventLog(text, file === '-' ? '<stdin>' : file);
}

/** Distinct steps seen in the events (for "N of M"). */
export function countSteps(events: BuildEvent[]): number {
  const keys = new Set<string>();
  for (const e of events) if ('step' in e) keys.add(key(e.step));
  return keys.size;
}
