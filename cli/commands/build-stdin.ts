// Context `-`: stdin is either a tar (the context) or a Buildfile (no context), told apart by the tar magic.
import { PassThrough, type Readable } from 'node:stream';

export async function sniffStdin(): Promise<{ kind: 'tar'; stream: Readable } | { kind: 'text'; text: string }> {
  const chunks: Buffer[] = [];
  let size = 0;
  const it = process.stdin[Symbol.asyncIterator]();
  while (size < 512) {
    const r = await it.next();
    if (r.done) break;
    chunks.push(r.value as Buffer);
    size += (r.value as Buffer).length;
  }
  const head = Buffer.concat(chunks);
  const isTar = head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar';
  const gz = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  if (!isTar && !gz) {
    const rest: Buffer[] = [head];
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      rest.push(r.value as Buffer);
    }
    return { kind: 'text', text: Buffer.concat(rest).toString('utf8') };
  }
  const out = new PassThrough();
  out.write(head);
  void (async () => {
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      if (!out.write(r.value)) await new Promise((res) => out.once('drain', res));
    }
    out.end();
  })();
  return { kind: 'tar', stream: out };
}
