// What `tsbuild build` does around the build for the user's view: render progress, keep the events for
// `--report FILE` and `--explain-cache`, and after the build write the report and print the explanation.
//
//   const view = await startBuildView({ progress, report, explainCache });
//   try {
//     result = await build({ ...options, onEvent: view.onEvent, signal: view.signal });
//   } finally {
//     await view.finish();
//   }
//
// Ctrl-C (SIGINT) or SIGTERM aborts `view.signal`, so the build stops its containers and unmounts what it mounted
// before tsbuild exits (130 / 143); a second Ctrl-C exits at once.
import type { BuildEvent, BuildEventListener } from '../../builder/index.js';
import type { ProgressMode, ProgressStream } from './index.js';
import { createRenderer } from './select.js';
import { InterruptedError } from '../errors.js';
import type { ReportBuildInfo } from '../report/index.js';
import { formatBuildWarnings, type ShownWarning } from '../check-output.js';
import { exitAfterFlush } from '../exit.js';

export interface BuildViewOptions {
  progress?: ProgressMode;
  /** `--report FILE`: `.json` for the data, anything else for the HTML page. */
  report?: string;
  /** What the report names besides the events: version, tags, platform, build args. */
  reportInfo?: ReportBuildInfo;
  /** `--explain-cache`: after the build, say why each rebuilt step missed the cache. */
  explainCache?: boolean;
  /** Where progress and explanations go (default stderr; stdout is kept for `-q`'s image ID). */
  stream?: ProgressStream;
  /** Turn SIGINT/SIGTERM into `signal` being aborted (default true; API users handle signals themselves). */
  handleSignals?: boolean;
  /** `--debug`: the build checks' summary gives each rule's description and URL too. */
  debug?: boolean;
}

export interface BuildView {
  onEvent: BuildEventListener;
  /** Every event seen so far. */
  readonly events: BuildEvent[];
  /** Aborted (with an InterruptedError as reason) on SIGINT/SIGTERM: pass it to build() as `signal`. */
  readonly signal: AbortSignal;
  /** The interruption, if the user interrupted the build: rethrow it instead of the build's own error. */
  readonly interrupted: InterruptedError | undefined;
  /**
   * Closes the renderer, then writes the report and the explanation if asked for. Call it in a `finally`: if the
   * user interrupted the build, it throws the InterruptedError (exit 130), replacing the build's abort error.
   * `last` is the stream's closing event (the CLI's `result`), rendered after the explanation.
   */
  finish(last?: BuildEvent): Promise<void>;
  /**
   * Ends the view having shown nothing: no summary, no report (a rootless build's cached-only attempt that gave
   * way to the build in the user namespace, which has a view of its own). Nothing may have reached onEvent.
   */
  discard(): void;
}

export async function startBuildView(opts: BuildViewOptions): Promise<BuildView> {
  const stream = opts.stream ?? process.stderr;
  const renderer = await createRenderer(opts.progress ?? 'auto', stream);
  const keep = opts.report !== undefined || opts.explainCache === true;
  const events: BuildEvent[] = [];
  // printed after the progress, as buildx prints them (the json mode has them as events; quiet prints none)
  const warnings: ShownWarning[] = [];
  const summarize = opts.progress !== 'json' && opts.progress !== 'quiet';
  let finished = false;
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      // Second Ctrl-C: the user does not want to wait for the cleanup.
      renderer.close();
      void exitAfterFlush(InterruptedError.codeFor(sig));
      return;
    }
    renderer.interrupted?.(sig);
    controller.abort(new InterruptedError(sig));
  };
  const handle = opts.handleSignals !== false;
  if (handle) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  const unlisten = (): void => {
    if (!handle) return;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  return {
    events,
    signal: controller.signal,
    get interrupted() {
      return controller.signal.aborted ? (controller.signal.reason as InterruptedError) : undefined;
    },
    onEvent(e) {
      if (keep) events.push(e);
      if (e.type === 'check-warning') warnings.push(e);
      renderer.onEvent(e);
    },
    discard() {
      finished = true;
      unlisten();
    },
    async finish(last) {
      if (finished) return;
      finished = true;
      unlisten();
      if (summarize && warnings.length > 0) {
        renderer.close();
        stream.write(formatBuildWarnings(warnings, opts.debug ?? false));
      }
      if (opts.explainCache) {
        const { explainCache, formatExplanation, countSteps } = await import('../explain.js');
        const text = formatExplanation(explainCache(events), countSteps(events));
        // a JSON stream holds only events: the explanation is a log event there
        if (opts.progress === 'json') renderer.onEvent({ type: 'log', time: Date.now(), level: 'info', message: text });
        else {
          renderer.close();
          stream.write(text + '\n');
        }
      }
      if (last) renderer.onEvent(last);
      renderer.close();
      if (opts.report !== undefined) {
        const { writeReport } = await import('../report/index.js');
        await writeReport(events, opts.report, opts.reportInfo);
      }
      if (controller.signal.aborted) throw controller.signal.reason as InterruptedError;
    },
  };
}
