// Errors a user of the registry client reads: which registry, which repository, what the server said, what to do.
import { TsbuildError } from '../oci/index.js';

export interface RegistryErrorInfo {
  registry: string;
  repository?: string;
  /** HTTP status, when the error came from a response. */
  status?: number;
  /** Registry error codes from the body (`MANIFEST_UNKNOWN`, `DENIED`, …). */
  codes?: string[];
  /** What the user can do about it. */
  hint?: string;
  cause?: unknown;
}

export class RegistryError extends TsbuildError {
  override name = 'RegistryError';
  readonly registry: string;
  readonly repository: string | undefined;
  readonly status: number | undefined;
  readonly codes: string[];

  constructor(message: string, info: RegistryErrorInfo, code = 'REGISTRY') {
    super(code, message, { hint: info.hint, cause: info.cause });
    this.registry = info.registry;
    this.repository = info.repository;
    this.status = info.status;
    this.codes = info.codes ?? [];
  }

  render(): string {
    const where = this.repository ? `${this.registry}/${this.repository}` : this.registry;
    const lines = [`${this.message} (${where}${this.status ? `, HTTP ${this.status}` : ''})`];
    if (this.codes.length) lines.push(`  registry said: ${this.codes.join(', ')}`);
    if (this.hint) lines.push(`  hint: ${this.hint}`);
    return lines.join('\n');
  }
}

/** A blob or manifest whose content does not hash to the digest it was asked for. */
export class DigestMismatchError extends RegistryError {
  override name = 'DigestMismatchError';
  constructor(
    registry: string,
    repository: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      `content digest ${actual} does not match ${expected}`,
      {
        registry,
        repository,
        hint: 'the registry or a proxy returned corrupt or different content; retry, or check the mirror',
      },
      'DIGEST_MISMATCH',
    );
  }
}

/** Standard hints for the statuses a user can act on. */
export function hintForStatus(status: number, registry: string, action: 'pull' | 'push'): string | undefined {
  if (status === 401) return `authentication required: run \`tsbuild login ${registry}\``;
  if (status === 403) return `access denied: the account may lack ${action} rights on this repository`;
  if (status === 404)
    return action === 'pull'
      ? 'check the repository name and tag (private repositories also answer 404 without login)'
      : 'the repository does not exist or you lack rights to create it';
  if (status === 429) return 'rate limited: wait, log in (`tsbuild login`) or configure --registry-mirror';
  return undefined;
}
