// Picks the progress renderer for `--progress=MODE`. `auto` is the live view on a terminal and plain lines
// elsewhere (a CI log, a pipe, TERM=dumb), as docker build does. Renderers are loaded on demand so a JSON build
// never loads the terminal libraries.
import type { ProgressMode, ProgressRenderer, ProgressStream } from './index.js';

export const PROGRESS_MODES: readonly ProgressMode[] = ['auto', 'tty', 'plain', 'json', 'quiet'];

export function isProgressMode(s: string): s is ProgressMode {
  return (PROGRESS_MODES as readonly string[]).includes(s);
}

/** The concrete mode `auto` stands for on this stream. */
export function resolveMode(
  mode: ProgressMode,
  stream: ProgressStream,
  env: NodeJS.ProcessEnv = process.env,
): Exclude<ProgressMode, 'auto'> {
  if (mode !== 'auto') return mode;
  return stream.isTTY === true && env.TERM !== 'dumb' ? 'tty' : 'plain';
}

const quiet: ProgressRenderer = { onEvent: () => undefined, close: () => undefined };

export async function createRenderer(mode: ProgressMode, stream: ProgressStream): Promise<ProgressRenderer> {
  const m = resolveMode(mode, stream);
  switch (m) {
    case 'quiet':
      return quiet;
    case 'tty': {
      const { createTtyRenderer } = await import('./tty.js');
      return createTtyRenderer(stream);
    }
    case 'plain': {
      const { createPlainRenderer } = await import('./plain.js');
      return createPlainRenderer(stream);
    }
    case 'json': {
      const { createJsonRenderer } = await import('./json.js');
      return createJsonRenderer(stream);
    }
  }
}
