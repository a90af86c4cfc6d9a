// The live progress view for a terminal, in the manner of BuildKit's: redrawn in place (log-update does the cursor
// work) at most every `intervalMs`, collapsing at the end to every step's line and a summary.
import { createLogUpdate } from 'log-update';
import type { BuildEvent } from '../../builder/index.js';
import type { ProgressRenderer, ProgressStream } from './index.js';
import { apply, newViewState, type ViewState } from './tty/state.js';
import { drawFrame } from './tty/frame.js';

export interface TtyRendererOptions {
  /** Minimum time between redraws (default 100 ms: at most 10 frames a second). */
  intervalMs?: number;
  /** Colour the ERROR mark and dim step output (default: true unless NO_COLOR is set). */
  color?: boolean;
  now?: () => number;
}

export class TtyRenderer implements ProgressRenderer {
  readonly state: ViewState = newViewState();
  private readonly log: ReturnType<typeof createLogUpdate>;
  private timer: NodeJS.Timeout | undefined;
  private dirty = false;
  private closed = false;
  private readonly intervalMs: number;
  private readonly color: boolean;
  private readonly now: () => number;

  constructor(
    private readonly stream: ProgressStream,
    opts: TtyRendererOptions = {},
  ) {
    this.log = createLogUpdate(stream);
    this.intervalMs = opts.intervalMs ?? 100;
    this.color = opts.color ?? process.env.NO_COLOR === undefined;
    this.now = opts.now ?? Date.now;
  }

  onEvent(e: BuildEvent): void {
    if (this.closed) return;
    apply(this.state, e);
    if (e.type === 'build-end') {
      this.close();
      return;
    }
    this.dirty = true;
    if (!this.timer) {
      this.draw();
      this.timer = setInterval(() => this.tick(), this.intervalMs);
      this.timer.unref();
    }
  }

  interrupted(signal: string): void {
    this.state.interrupted = signal;
    this.dirty = true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    // The final frame is written once, plainly, so a long build's list is not cut to the terminal's height.
    this.log.clear();
    const lines = drawFrame(this.state, { now: this.now(), columns: this.columns(), color: this.color });
    this.stream.write(lines.join('\n') + '\n');
    this.log.done();
  }

  private columns(): number {
    return this.stream.columns && this.stream.columns > 0 ? this.stream.columns : 80;
  }

  private tick(): void {
    // Redraw when something changed, and while steps run (their elapsed times move).
    const running = this.state.steps.some((s) => s.end === undefined);
    if (this.dirty || running) this.draw();
  }

  private draw(): void {
    this.dirty = false;
    const rows = this.stream.rows && this.stream.rows > 0 ? this.stream.rows : 24;
    this.log(
      drawFrame(this.state, { now: this.now(), columns: this.columns(), maxLines: rows - 1, color: this.color }).join(
        '\n',
      ),
    );
  }
}

export function createTtyRenderer(stream: ProgressStream, opts?: TtyRendererOptions): ProgressRenderer {
  return new TtyRenderer(stream, opts);
}
