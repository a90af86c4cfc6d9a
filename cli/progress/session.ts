// What `tsbuild build` does around the build for the user's view: render progress, keep the events for
// `--report FILE` and `--explain-cache`, and after the build write the report and print the explanation.
//
//   const view = await startBuildView({ progress: opts.progress, report: opts.report, explainCache: opts.explainCache });
//   try { result = await build({ ...options, onEvent: view.onEvent }); } finally { await view.finish(); }
import type { BuildEvent, BuildEventListener } from '../../builder/events.js';
import type { ProgressMode, ProgressStream } from './index.js';
import { createRenderer } from './select.js';

export interface BuildViewOptions {
  progress?: ProgressMode;
  /** `--report FILE`: `.json` for the data, anything else for the HTML page. */
  report?: string;
  /** `--explain-cache`: after the build, say why each rebuilt step missed the cache. */
  explainCache?: boolean;
  /** Where progress and explanations go (default stderr; stdout is kept for `-q`'s image ID). */
  stream?: ProgressStream;
}

export interface BuildView {
  onEvent: BuildEventListener;
  /** Every event seen so far. */
  readonly events: BuildEvent[];
  /** Closes the renderer, then writes the report and the explanation if asked for. Call once, in a `finally`. */
  finish(): Promise<void>;
}

export async function startBuildView(opts: BuildViewOptions): Promise<BuildView> {
  const stream = opts.stream ?? process.stderr;
  const renderer = await createRenderer(opts.progress ?? 'auto', stream);
  const keep = opts.report !== undefined || opts.explainCache === true;
  const events: BuildEvent[] = [];
  let finished = false;
  return {
    events,
    onEvent(e) {
      if (keep) events.push(e);
      renderer.onEvent(e);
    },
    async finish() {
      if (finished) return;
      finished = true;
      renderer.close();
      if (opts.explainCache) {
        const { explainCache, formatExplanation, countSteps } = await import('../explain.js');
        stream.write(formatExplanation(explainCache(events), countSteps(events)) + '\n');
      }
      if (opts.report !== undefined) {
        const { writeReport } = await import('../report/index.js');
        await writeReport(events, opts.report);
      }
    },
  };
}
