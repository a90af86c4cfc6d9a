// The build report's data, derived from a build's events: stages with their dependencies, every step with its start
// (relative to the build's start), duration, cache status, layer and cache-miss reason, and the pulls/pushes.
// `--report FILE.json` writes exactly this; the HTML page draws it.
import type { BuildEvent, StepRef } from '../../builder/index.js';
import { describeMiss, explainCache } from '../explain.js';
import { shortLine } from '../check-output.js';

export interface ReportStep {
  stage: string;
  index: number;
  total: number;
  instruction: string;
  line: number;
  /** Milliseconds from the build's start. */
  startMs: number;
  durationMs: number;
  cached: boolean;
  /** Still running when the events ended (an interrupted build). */
  unfinished?: boolean;
  layer?: { digest: string; size: number };
  error?: string;
  /** Why the cache was not used (from the `cache-miss` event). */
  cacheMiss?: string;
  /** The same, traced to where the rebuilds began (as `tsbuild why-rebuilt` says it). */
  rebuiltBecause?: string;
  outputLines: number;
  /** A failed step: the last lines it printed (at most LAST_OUTPUT_LINES, stdout and stderr interleaved). */
  lastOutput?: string[];
}

export interface ReportStage {
  name: string;
  dependsOn: string[];
  steps: number;
  startMs?: number;
  endMs?: number;
}

export interface ReportTransfer {
  kind: 'pull' | 'push';
  ref: string;
  blobs: number;
  bytes: number;
  startMs: number;
  durationMs: number;
}

/** What the build was asked for, from the command line (never a --secret: only its id could be named). */
export interface ReportBuildInfo {
  version: string;
  tags: string[];
  /** The target platform (`linux/amd64`): --platform, else the host's. */
  platform: string;
  buildArgs: Record<string, string>;
}

/** How many of a failed step's last output lines the report keeps. */
export const LAST_OUTPUT_LINES = 20;

export interface BuildReport {
  schema: 'tsbuild-report/v1';
  /** Epoch milliseconds of build-start. */
  startedAt: number;
  durationMs: number;
  ok: boolean | null;
  imageId?: string;
  manifestDigest?: string;
  /** --push: the manifest digest the registry stored, per tag. */
  pushed: { ref: string; digest: string }[];
  build?: ReportBuildInfo;
  error?: string;
  stages: ReportStage[];
  steps: ReportStep[];
  transfers: ReportTransfer[];
  warnings: string[];
}

const key = (s: StepRef) => `${s.stage}\u0000${s.index}`;

export function buildReport(events: BuildEvent[], info?: ReportBuildInfo): BuildReport {
  const t0 = events.find((e) => e.type === 'build-start')?.time ?? events[0]?.time ?? 0;
  const last = events.reduce((m, e) => Math.max(m, e.time), t0);
  const report: BuildReport = {
    schema: 'tsbuild-report/v1',
    startedAt: t0,
    durationMs: last - t0,
    ok: null,
    pushed: [],
    ...(info ? { build: { ...info, tags: [...info.tags], buildArgs: { ...info.buildArgs } } } : {}),
    stages: [],
    steps: [],
    transfers: [],
    warnings: [],
  };
  const steps = new Map<string, ReportStep>();
  const misses = new Map<string, string>();
  /** The last lines of every step's output, kept for the steps that fail. */
  const tails = new Map<string, string[]>();
  const transfers = new Map<string, { t: ReportTransfer; blobs: Map<string, number>; end: number }>();
  const stepFor = (ref: StepRef, time: number): ReportStep => {
    let s = steps.get(key(ref));
    if (!s) {
      s = {
        stage: ref.stage,
        index: ref.index,
        total: ref.total,
        instruction: ref.instruction,
        line: ref.line,
        startMs: time - t0,
        durationMs: 0,
        cached: false,
        unfinished: true,
        outputLines: 0,
      };
      steps.set(key(ref), s);
    }
    return s;
  };
  for (const e of events) {
    switch (e.type) {
      case 'build-start':
        report.stages = e.stages.map((s) => ({ name: s.name, dependsOn: [...s.dependsOn], steps: 0 }));
        break;
      case 'step-start':
        stepFor(e.step, e.time);
        break;
      case 'step-cached': {
        const s = stepFor(e.step, e.time);
        s.cached = true;
        break;
      }
      case 'step-output': {
        stepFor(e.step, e.time).outputLines++;
        const tail = tails.get(key(e.step)) ?? [];
        tail.push(e.line);
        if (tail.length > LAST_OUTPUT_LINES) tail.shift();
        tails.set(key(e.step), tail);
        break;
      }
      case 'step-end': {
        const s = stepFor(e.step, e.time - e.durationMs);
        s.durationMs = e.durationMs;
        s.cached = s.cached || e.cached;
        delete s.unfinished;
        if (e.layer) s.layer = { ...e.layer };
        if (e.error !== undefined) {
          s.error = e.error;
          const tail = tails.get(key(e.step));
          if (tail) s.lastOutput = [...tail];
        }
        break;
      }
      case 'cache-miss':
        misses.set(key(e.step), e.reason);
        break;
      case 'pull-progress':
      case 'push-progress': {
        const kind = e.type === 'pull-progress' ? 'pull' : 'push';
        const k = `${kind}\u0000${e.ref}`;
        let x = transfers.get(k);
        if (!x) {
          x = {
            t: { kind, ref: e.ref, blobs: 0, bytes: 0, startMs: e.time - t0, durationMs: 0 },
            blobs: new Map(),
            end: e.time,
          };
          transfers.set(k, x);
        }
        x.blobs.set(e.digest, e.total > 0 ? e.total : e.current);
        x.end = e.time;
        break;
      }
      case 'image-pushed':
        report.pushed.push({ ref: e.ref, digest: e.digest });
        break;
      case 'log':
        if (e.level === 'warn') report.warnings.push(e.message);
        break;
      case 'check-warning':
        report.warnings.push(shortLine(e));
        break;
      case 'build-end':
        report.ok = e.ok;
        if (e.imageId !== undefined) report.imageId = e.imageId;
        if (e.manifestDigest !== undefined) report.manifestDigest = e.manifestDigest;
        if (e.error !== undefined) report.error = e.error;
        break;
    }
  }
  for (const [k, reason] of misses) {
    const s = steps.get(k);
    if (s && !s.cached) s.cacheMiss = reason;
  }
  for (const x of explainCache(events)) {
    const s = steps.get(key(x.step));
    if (s && x.kind !== 'unknown') s.rebuiltBecause = describeMiss(x);
  }
  for (const s of steps.values()) if (s.unfinished) s.durationMs = last - t0 - s.startMs;
  report.steps = [...steps.values()].sort(
    (a, b) => a.startMs - b.startMs || a.stage.localeCompare(b.stage) || a.index - b.index,
  );
  for (const st of report.steps) {
    let stage = report.stages.find((x) => x.name === st.stage);
    if (!stage) {
      stage = { name: st.stage, dependsOn: [], steps: 0 };
      report.stages.push(stage);
    }
    stage.steps++;
    stage.startMs = Math.min(stage.startMs ?? Infinity, st.startMs);
    stage.endMs = Math.max(stage.endMs ?? 0, st.startMs + st.durationMs);
  }
  report.transfers = [...transfers.values()].map(({ t, blobs, end }) => ({
    ...t,
    blobs: blobs.size,
    bytes: [...blobs.values()].reduce((a, b) => a + b, 0),
    durationMs: end - t0 - t.startMs,
  }));
  return report;
}
