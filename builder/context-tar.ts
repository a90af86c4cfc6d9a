// A build context that arrives as bytes (stdin `-`, an HTTP(S) URL, `--build-context NAME=https://…`): told apart by
// content, as BuildKit's and docker's readers do — a tar compressed with gzip, bzip2, xz or zstd, a plain tar
// (`ustar` at 257), or else a Buildfile alone. The tar is untrusted: it is unpacked by the store's unpacker in
// extract mode with `plain` (no `..`, no write through a symlink, no device nodes, no owners), never by GNU tar.
import { spawn } from 'node:child_process';
import { PassThrough, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { unpackTar, zstdDecompressor } from '../store/index.js';
import { ContextError } from './context.js';

export type ContextFormat = 'gzip' | 'bzip2' | 'xz' | 'zstd' | 'tar' | 'text';

const XZ = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
const ZSTD = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

/** What the first bytes (512 are enough) say the context is. */
export function sniffContext(head: Buffer): ContextFormat {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 3 && head.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  if (head.length >= 6 && head.subarray(0, 6).equals(XZ)) return 'xz';
  if (head.length >= 4 && head.subarray(0, 4).equals(ZSTD)) return 'zstd';
  if (head.length >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'tar';
  return 'text';
}

/** Reads the first `n` bytes of `src`; returns them and a stream of the whole, those bytes included. */
export async function sniffStream(
  src: AsyncIterable<Buffer>,
  n = 512,
): Promise<{ head: Buffer; format: ContextFormat; stream: Readable }> {
  const it = src[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let size = 0;
  let done = false;
  while (size < n) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    chunks.push(r.value);
    size += r.value.length;
  }
  const head = Buffer.concat(chunks);
  const out = new PassThrough();
  out.write(head);
  if (done) out.end();
  else
    void (async () => {
      try {
        for (;;) {
          const r = await it.next();
          if (r.done) break;
          if (!out.write(r.value)) await new Promise((res) => out.once('drain', res));
        }
        out.end();
      } catch (e) {
        out.destroy(e as Error);
      }
    })();
  return { head, format: sniffContext(head), stream: out };
}

/**
 * Unpacks a context tar stream (compressed or not, detected by content) into `dir`, which exists and is empty.
 * `what` names the source in errors ("the context tar on stdin", a URL).
 */
export async function unpackContextTar(src: AsyncIterable<Buffer>, dir: string, what: string): Promise<void> {
  const { format, stream } = await sniffStream(src);
  if (format === 'text') throw new ContextError(`${what} is not a tar archive (nor gzip, bzip2, xz or zstd)`);
  const fail = (why: string): ContextError => new ContextError(`reading ${what} failed: ${why}`);
  let tar: Readable = stream;
  let child: ReturnType<typeof spawn> | undefined;
  let stderr = '';
  if (format === 'gzip' || format === 'zstd') {
    const inflate = format === 'gzip' ? createGunzip({ chunkSize: 1 << 20 }) : await zstdDecompressor();
    stream.on('error', (e) => inflate.destroy(e));
    tar = stream.pipe(inflate);
  } else if (format === 'bzip2' || format === 'xz') {
    // Node has neither: the tools read the stream on stdin (argv fixed, nothing from the archive)
    child = spawn(format, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin!.on('error', () => undefined);
    stream.pipe(child.stdin!);
    tar = child.stdout!;
  }
  const exited =
    child &&
    new Promise<number | null>((res, rej) => {
      child.on('error', rej);
      child.on('close', res);
    });
  try {
    await unpackTar(tar, dir, { mode: 'extract', plain: true });
  } catch (e) {
    child?.kill('SIGKILL');
    await exited?.catch(() => undefined);
    throw fail(stderr.trim() || (e as Error).message);
  }
  if (exited) {
    const code = await exited.catch((e: Error) => {
      throw fail(`${format}: ${e.message}`);
    });
    if (code !== 0) throw fail(`${format} exited with ${code}: ${stderr.trim()}`);
  }
}
