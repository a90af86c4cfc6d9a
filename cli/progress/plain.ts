// Plain progress: one line per step, printed once its outcome is known, so a cache hit reads
// `[builder 3/7] RUN make CACHED` on one grep-able line; command output lines carry their step's prefix.
import type { BuildEvent, StepRef } from '../../builder/index.js';
import { formatDuration } from './format.js';
import type { ProgressRenderer, ProgressStream } from './index.js';

function head(s: StepRef): string {
  return `[${s.stage} ${s.index}/${s.total}]`;
}

export class PlainRenderer implements ProgressRenderer {
  /** Steps whose header line was already printed (because output came before the end). */
  private printed = new Set<string>();
  private closed = false;

  constructor(private readonly out: ProgressStream) {}

  private write(line: string): void {
    this.out.write(`${line}\n`);
  }

  onEvent(e: BuildEvent): void {
    if (this.closed) return;
    switch (e.type) {
      case 'step-output': {
        const id = head(e.step);
        if (!this.printed.has(id)) {
          this.printed.add(id);
          this.write(`${id} ${e.step.instruction}`);
        }
        this.write(`${id} | ${e.line}`);
        break;
      }
      case 'step-end': {
        const id = head(e.step);
        if (e.cached) this.write(`${id} ${e.step.instruction} CACHED`);
        else if (e.error) this.write(`${id} ${e.step.instruction} ERROR: ${e.error}`);
        else if (this.printed.has(id)) this.write(`${id} DONE ${formatDuration(e.durationMs)}`);
        else this.write(`${id} ${e.step.instruction} DONE ${formatDuration(e.durationMs)}`);
        break;
      }
      case 'pull-progress':
        if (e.current === e.total) this.write(`pulled ${e.ref} ${e.digest}`);
        break;
      case 'push-progress':
        if (e.current === e.total) this.write(`pushed ${e.ref} ${e.digest}`);
        break;
      case 'image-pushed':
        this.write(`pushing manifest for ${e.ref}@${e.digest} done`);
        break;
      case 'log':
        this.write(`${e.level === 'warn' ? 'WARNING: ' : ''}${e.message}`);
        break;
      case 'build-end':
        if (e.ok)
          this.write(
            `writing image ${e.imageId ?? ''} done${e.manifestDigest ? ` (manifest ${e.manifestDigest})` : ''}`,
          );
        break;
      default:
        break;
    }
  }

  close(): void {
    this.closed = true;
  }
}

export function createPlainRenderer(stream: ProgressStream): ProgressRenderer {
  return new PlainRenderer(stream);
}
