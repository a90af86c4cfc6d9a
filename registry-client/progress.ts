// The transfer events pull and push report; the CLI renders them (plain lines with bytes/s, or JSON).
import type { Digest } from '../oci/index.js';
import type { RetryNotice } from './options.js';

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

/**
 * A retry as one line for people: `retrying 127.0.0.1:5000 (GET /v2/…/manifests/1: connect ECONNREFUSED …):
 * attempt 3 in 1.0 s, giving up in 27 s`. The CLI prints it for pull and push; a build logs it as a warning.
 */
export function describeRetry(n: RetryNotice): string {
  const secs = (ms: number): string => (ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`);
  return `retrying ${n.registry} (${n.request}: ${n.message}): attempt ${n.attempt} in ${secs(n.waitMs)}, giving up in ${secs(n.remainingMs)}`;
}
