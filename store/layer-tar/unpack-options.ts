// What unpackTar (unpack.ts) takes and returns: its modes and options, and what it counted.
import type { WriterSession } from './file-writer.js';

export interface UnpackOptions {
  /**
   * `overlay` (default): whiteouts as overlay devices/xattrs; `apply`: whiteouts delete from `dest`; `extract`:
   * no whiteouts, existing entries replaced, symlinks on the way refused, and the root entry (`./`) ignored: ADD
   * leaves its destination directory as it is, as Docker's untar does.
   */
  mode?: 'overlay' | 'apply' | 'extract';
  /** Named in errors. */
  digest?: string;
  /** Collect the tree record (see layers.ts treeLine) from the headers, without stat calls. */
  record?: boolean;
  /**
   * Overlay mode: regular files written on this thread before the small ones that follow are queued for another
   * thread (file-writer.ts); small layers never use it. Default 32; Infinity: never.
   */
  offloadAfter?: number;
  /**
   * An untrusted archive unpacked as a build context (extract mode): owners, setuid/setgid bits and xattrs are
   * dropped and a device node or fifo is refused, so nothing in it acts on the host that reads the context.
   */
  plain?: boolean;
  /**
   * Character and block devices are skipped (counted in `devicesSkipped`, said once): a copy snapshot's tree has no
   * nodev mount around it, so an image's node (a host disk) would open in RUN.
   */
  skipDevices?: boolean;
  /** Overlay mode: the file ring session to queue small files on (HashWriter.inflate's); ended or aborted here. */
  writer?: WriterSession;
}

export interface UnpackStats {
  entries: number;
  bytes: number;
  /** Device nodes not made (a rootless run cannot make them). */
  devicesSkipped?: number;
  /** With `record`: one line per entry, as treeLine() would write it after a walk. */
  tree?: string[];
  /** Regular files queued for the writer thread (those it left when its blob ended were written here at the end). */
  offloaded: number;
}
