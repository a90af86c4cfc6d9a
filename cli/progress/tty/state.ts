// The live view's model: what is known about the build after each event. Pure data, updated in place by `apply`;
// frame.ts draws it. Kept apart from the terminal so it can be tested without one.
import type { BuildEvent, StepRef } from '../../../builder/index.js';

/** Lines of a running step's output kept for the view (BuildKit shows a similar short tail). */
export const TAIL_LINES = 6;

export interface StepView {
  key: string;
  step: StepRef;
  start: number;
  end?: number;
  cached: boolean;
  error?: string;
  /** Last lines the step printed. */
  tail: string[];
  layer?: { digest: string; size: number };
}

export interface TransferView {
  kind: 'pull' | 'push';
  ref: string;
  blobs: Map<string, { current: number; total: number }>;
  start: number;
  last: number;
}

export interface ViewState {
  start?: number;
  end?: number;
  ok?: boolean;
  imageId?: string;
  error?: string;
  /** Steps in the order they started (or were found cached). */
  steps: StepView[];
  transfers: TransferView[];
  warnings: string[];
  /** Informational log lines (a Git source resolved to its commit, a cache imported), drawn under the transfers. */
  notes: string[];
  /** Set when the user interrupted the build (the signal's name). */
  interrupted?: string;
  /** Step count per stage, learnt from StepRef.total. */
  stageTotals: Map<string, number>;
}

export function newViewState(): ViewState {
  return { steps: [], transfers: [], warnings: [], notes: [], stageTotals: new Map() };
}

export function stepKey(s: StepRef): string {
  return `${s.stage}\u0000${s.index}`;
}

function stepFor(state: ViewState, ref: StepRef, time: number): StepView {
  const key = stepKey(ref);
  let v = state.steps.find((s) => s.key === key);
  if (!v) {
    v = { key, step: ref, start: time, cached: false, tail: [] };
    state.steps.push(v);
    state.stageTotals.set(ref.stage, ref.total);
  }
  return v;
}

function transferFor(state: ViewState, kind: 'pull' | 'push', ref: string, time: number): TransferView {
  let t = state.transfers.find((x) => x.kind === kind && x.ref === ref);
  if (!t) {
    t = { kind, ref, blobs: new Map(), start: time, last: time };
    state.transfers.push(t);
  }
  return t;
}

export function apply(state: ViewState, e: BuildEvent): void {
  switch (e.type) {
    case 'build-start':
      state.start = e.time;
      break;
    case 'step-start':
      stepFor(state, e.step, e.time);
      break;
    case 'step-cached': {
      const v = stepFor(state, e.step, e.time);
      v.cached = true;
      v.end = e.time;
      break;
    }
    case 'step-output': {
      const v = stepFor(state, e.step, e.time);
      v.tail.push(e.line);
      if (v.tail.length > TAIL_LINES) v.tail.splice(0, v.tail.length - TAIL_LINES);
      break;
    }
    case 'step-end': {
      const v = stepFor(state, e.step, e.time);
      v.end = e.time;
      v.cached = v.cached || e.cached;
      if (e.error !== undefined) v.error = e.error;
      if (e.layer) v.layer = e.layer;
      break;
    }
    case 'cache-miss':
      break;
    case 'pull-progress':
    case 'push-progress': {
      const t = transferFor(state, e.type === 'pull-progress' ? 'pull' : 'push', e.ref, e.time);
      t.blobs.set(e.digest, { current: e.current, total: e.total });
      t.last = e.time;
      break;
    }
    case 'log':
      if (e.level === 'warn') state.warnings.push(e.message);
      else state.notes.push(e.message);
      break;
    case 'build-end':
      state.end = e.time;
      state.ok = e.ok;
      if (e.imageId !== undefined) state.imageId = e.imageId;
      if (e.error !== undefined) state.error = e.error;
      break;
  }
}

export function transferTotals(t: TransferView): { current: number; total: number; done: boolean } {
  let current = 0;
  let total = 0;
  let done = true;
  for (const b of t.blobs.values()) {
    current += b.current;
    total += b.total;
    if (b.total <= 0 || b.current < b.total) done = false;
  }
  return { current, total, done };
}

/** Steps finished vs steps known (the sum of the totals of the stages seen so far). */
export function stepCounts(state: ViewState): { done: number; known: number; cached: number } {
  let known = 0;
  for (const n of state.stageTotals.values()) known += n;
  const done = state.steps.filter((s) => s.end !== undefined).length;
  const cached = state.steps.filter((s) => s.cached).length;
  return { done, known, cached };
}
