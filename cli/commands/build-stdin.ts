// Context `-`: stdin is either a tar, plain or compressed with gzip, bzip2, xz or zstd (the context), or a Buildfile
// (no context), told apart by content (builder/context-tar.ts, the same reading as an HTTP(S) context).
import type { Readable } from 'node:stream';

export async function sniffStdin(): Promise<{ kind: 'tar'; stream: Readable } | { kind: 'text'; text: string }> {
  const { loadContextSniffer } = await import('../../builder/index.js');
  const { format, stream } = await (await loadContextSniffer())(process.stdin as AsyncIterable<Buffer>);
  if (format !== 'text') return { kind: 'tar', stream };
  const rest: Buffer[] = [];
  for await (const c of stream) rest.push(c as Buffer);
  return { kind: 'text', text: Buffer.concat(rest).toString('utf8') };
}
