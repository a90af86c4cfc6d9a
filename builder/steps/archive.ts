// ADD's local archives (tar, or tar compressed with gzip, bzip2 or xz), unpacked by the store's layer unpacker
// into a directory of the upperdir, never by GNU tar into a live tree: `..` names and hardlinks out of the root
// are refused, and nothing is written through a symlink, whether the archive or an earlier source of the step
// placed it. gzip is inflated here; bzip2 and xz by their own tools reading the archive's fd.
import { spawn } from 'node:child_process';
import { createReadStream, readSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { fdPath } from '../../runtime/index.js';
import { unpackTar } from '../../store/index.js';
import { SourceError } from './sources.js';

const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

/** Unpacks the archive open as `srcFd` (read from offset 0) into the directory open as `destDirFd`. */
export async function extractArchive(srcFd: number, destDirFd: number, name: string): Promise<void> {
  const magic = Buffer.alloc(6);
  const n = readSync(srcFd, magic, 0, 6, 0);
  const tool =
    n >= 3 && magic.subarray(0, 3).toString('latin1') === 'BZh'
      ? 'bzip2'
      : n >= 6 && magic.equals(XZ_MAGIC)
        ? 'xz'
        : undefined;
  const fail = (why: string): SourceError => new SourceError(`ADD: extracting ${name} failed: ${why}`);
  // `/.`: the directory itself, never the /proc link (the archive's root entry is ignored in extract mode)
  const dest = `${fdPath(destDirFd)}/.`;
  if (tool === undefined) {
    const file = createReadStream('', { fd: srcFd, autoClose: false, start: 0 });
    const gz = n >= 2 && magic[0] === 0x1f && magic[1] === 0x8b;
    const stream: Readable = gz ? file.pipe(createGunzip()) : file;
    if (gz) file.on('error', (e) => stream.destroy(e));
    try {
      await unpackTar(stream, dest, { mode: 'extract' });
    } catch (e) {
      file.destroy();
      throw fail((e as Error).message);
    }
    return;
  }
  // the tool reads the fd itself (pread above left its offset at 0)
  const child = spawn(tool, ['-dc'], { stdio: [srcFd, 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((res, rej) => {
    child.on('error', rej);
    child.on('close', res);
  });
  try {
    await unpackTar(child.stdout!, dest, { mode: 'extract' });
  } catch (e) {
    child.kill('SIGKILL');
    await exited.catch(() => undefined);
    throw fail(stderr.trim() || (e as Error).message);
  }
  const code = await exited.catch((e: Error) => {
    throw fail(`${tool}: ${e.message}`);
  });
  if (code !== 0) throw fail(`${tool} exited with ${code}: ${stderr.trim()}`);
}
