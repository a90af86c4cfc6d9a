// A small record of which repositories of a registry are known to hold a blob, so a push can mount the blob
// (`POST …/blobs/uploads/?mount=D&from=REPO`) instead of uploading it. A cache: losing it costs an upload, nothing
// more.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Digest } from '../oci/index.js';

type Record_ = Record<string, Record<string, string[]>>;
const MAX_REPOS = 4;

export class BlobLocations {
  private data: Record_ = {};
  private dirty = false;
  private readonly file: string | undefined;

  constructor(stateDir: string | undefined) {
    this.file = stateDir ? join(stateDir, 'blob-locations.json') : undefined;
  }

  private static async read(file: string): Promise<Record_> {
    try {
      return JSON.parse(await readFile(file, 'utf8')) as Record_;
    } catch {
      return {};
    }
  }

  async load(): Promise<this> {
    if (this.file) this.data = await BlobLocations.read(this.file);
    return this;
  }

  /** Other repositories of `registry` known to hold `digest`, most recent first. */
  reposFor(registry: string, digest: Digest, except: string): string[] {
    return (this.data[registry]?.[digest] ?? []).filter((r) => r !== except);
  }

  add(registry: string, repository: string, digest: Digest): void {
    const reg = (this.data[registry] ??= {});
    const list = reg[digest] ?? [];
    if (list[0] === repository) return;
    reg[digest] = [repository, ...list.filter((r) => r !== repository)].slice(0, MAX_REPOS);
    this.dirty = true;
  }

  /** Merges with what other processes wrote meanwhile and replaces the file atomically. */
  async save(): Promise<void> {
    if (!this.file || !this.dirty) return;
    const disk = await BlobLocations.read(this.file);
    for (const [reg, digests] of Object.entries(this.data)) {
      const d = (disk[reg] ??= {});
      for (const [digest, repos] of Object.entries(digests))
        d[digest] = [...new Set([...repos, ...(d[digest] ?? [])])].slice(0, MAX_REPOS);
    }
    await mkdir(join(this.file, '..'), { recursive: true });
    const tmp = `${this.file}.tmp-${process.pid}-${Date.now()}`;
    await writeFile(tmp, JSON.stringify(disk));
    await rename(tmp, this.file);
    this.data = disk;
    this.dirty = false;
  }
}
