// An ImageTree over files held in memory: what the scanners' unit tests build their images from.
import type { ImageTree } from './types.js';

export function memoryTree(files: Record<string, string | Buffer | { data: Buffer; mode: number }>): ImageTree {
  const map = new Map<string, { data: Buffer; mode: number }>();
  for (const [p, v] of Object.entries(files)) {
    map.set(
      p,
      typeof v === 'string' ? { data: Buffer.from(v), mode: 0o644 } : Buffer.isBuffer(v) ? { data: v, mode: 0o644 } : v,
    );
  }
  const dirs = new Set<string>(['/']);
  for (const p of map.keys())
    for (let d = p.slice(0, p.lastIndexOf('/')); d; d = d.slice(0, d.lastIndexOf('/'))) dirs.add(d);
  return {
    read: (path, max = Infinity) => {
      const f = map.get(path);
      return f && f.data.length <= max ? f.data : undefined;
    },
    openFile: (path) => {
      const f = map.get(path);
      return f
        ? {
            size: f.data.length,
            readAt: (offset, len) => f.data.subarray(offset, offset + len),
            close: () => undefined,
          }
        : undefined;
    },
    list: (path, stat = () => true) => {
      if (!dirs.has(path)) return undefined;
      const prefix = path === '/' ? '/' : `${path}/`;
      const out = new Map<string, { name: string; kind: 'dir' | 'file'; mode: number; size: number }>();
      for (const p of [...map.keys(), ...dirs]) {
        if (!p.startsWith(prefix) || p === path) continue;
        const name = p.slice(prefix.length).split('/')[0]!;
        const full = prefix + name;
        const f = map.get(full);
        out.set(
          name,
          f && stat(name)
            ? { name, kind: 'file', mode: f.mode, size: f.data.length }
            : f
              ? { name, kind: 'file', mode: 0, size: 0 }
              : { name, kind: 'dir', mode: 0, size: 0 },
        );
      }
      return [...out.values()];
    },
  };
}
