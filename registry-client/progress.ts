// The transfer events pull and push report; the CLI renders them (plain lines with bytes/s, or JSON).
import type { Digest } from '../oci/types.js';

export type TransferAction =
  /** Bytes moving: `transferred` of `size`. */
  | 'download'
  | 'upload'
  /** Nothing to move: the blob is already in the target (local store or remote repository). */
  | 'exists'
  /** Mounted from another repository of the same registry. */
  | 'mount'
  /** Recorded in the target with where to fetch it, not downloaded (a lazy pull). */
  | 'lazy'
  | 'unpack'
  | 'retry'
  | 'done';

export interface TransferProgress {
  kind: 'blob' | 'manifest';
  action: TransferAction;
  digest: Digest;
  size: number;
  transferred: number;
  mediaType?: string;
  /** The repository involved (`registry/repo`), for push to several destinations. */
  repository?: string;
  message?: string;
}

export type ProgressFn = (p: TransferProgress) => void;
