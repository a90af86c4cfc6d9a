// JSON progress: every BuildEvent as one line of JSON, for tools.
import type { BuildEvent } from '../../builder/index.js';
import type { ProgressRenderer, ProgressStream } from './index.js';

export class JsonRenderer implements ProgressRenderer {
  private closed = false;
  constructor(private readonly out: ProgressStream) {}

  onEvent(e: BuildEvent): void {
    if (!this.closed) this.out.write(`${JSON.stringify(e)}\n`);
  }

  close(): void {
    this.closed = true;
  }
}

export function createJsonRenderer(stream: ProgressStream): ProgressRenderer {
  return new JsonRenderer(stream);
}
