// Picks the progress renderer for `--progress=MODE`. `auto` is the live view on a terminal and plain lines
// elsewhere (a CI log, a pipe, TERM=dumb), as docker build does. Renderers are loaded on demand so a JSON build
// never loads the terminal libraries.
import type { ProgressMode, ProgressRenderer, ProgressStream } from './index.js';

export const PROGRESS_MODES: readonly ProgressMode[] = ['auto', 'tty', 'plain', 'json', 'quiet'];

export function isProgressMode(s: string): s is ProgressMode {
  return (PROGRESS_MODES as readonly string[]).includes(s);
}

/** The concrete mode `auto` stands for on this stream. */
export function resolveMode(mode: ProgressMode, stream: ProgressStream, env: NodeJS.ProcessEnv = process.env): Exclude<ProgressMode, 'auto'> {
  if (mode !== 'auto') return mode;
  return stream.isTTY === true && env.TERM !== 'dumb' ? 'tty' : 'plain';
}

const quiet: ProgressRenderer = { onEvent: () => undefined, close: () => undefined };

type Factory = (stream: ProgressStream) => ProgressRenderer;

/**
 * plain.ts and json.ts (the builder's) export `createPlainRenderer(stream)` / `createJsonRenderer(stream)`; a
 * module exporting a `ProgressRenderer` class or factory under another name is found too.
 */
async function loadFactory(name: 'plain' | 'json'): Promise<Factory> {
  const mod = (await import(`./${name}.js`)) as Record<string, unknown>;
  const wanted = `create${name[0]!.toUpperCase()}${name.slice(1)}Renderer`;
  const f = mod[wanted] ?? mod.default ?? Object.entries(mod).find(([k, v]) => typeof v === 'function' && /renderer/i.test(k))?.[1];
  if (typeof f !== 'function') throw new Error(`cli/progress/${name}.js exports no ${wanted}()`);
  const isClass = /^class\s/.test(Function.prototype.toString.call(f));
  return isClass
    ? (s) => new (f as new (s: ProgressStream) => ProgressRenderer)(s)
    : (s) => (f as Factory)(s);
}

export async function createRenderer(mode: ProgressMode, stream: ProgressStream): Promise<ProgressRenderer> {
  const m = resolveMode(mode, stream);
  switch (m) {
    case 'quiet':
      return quiet;
    case 'tty': {
      const { createTtyRenderer } = await import('./tty.js');
      return createTtyRenderer(stream);
    }
    case 'plain':
    case 'json':
      return (await loadFactory(m))(stream);
  }
}
