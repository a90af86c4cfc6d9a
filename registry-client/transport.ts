// HTTP for the registry client: keep-alive agents, plain HTTP for insecure registries, redirects followed by hand
// (the Authorization header never leaves the origin it was meant for), and retries with backoff on connection
// resets, timeouts, 5xx and 429 (honouring Retry-After). A registry that is down or restarting (refused or reset
// connections, 502/503/504) is retried for a bounded time, each retry announced through `onRetry`.
import http from 'node:http';
import https from 'node:https';
import fetch, { type BodyInit, type Response } from 'node-fetch';
import { RegistryError } from './errors.js';
import { DEFAULT_RETRY_SECONDS, type RegistryOptions, type RetryNotice } from './options.js';
import { discardBody } from './body-limit.js';
import { tlsTrust } from '../oci/index.js';

export interface SendRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  /** A body factory, called once per attempt (a stream cannot be sent twice). */
  body?: () => BodyInit | undefined;
  /** Attempts after the first; default from the options. 0 for requests whose body cannot be replayed. */
  retries?: number;
  /** Statuses the caller handles itself and which must not be retried (e.g. 416 on a ranged GET). */
  noRetryStatus?: number[];
  /** Time allowed until the response headers arrive (default the options' timeoutMs); uploads need more. */
  timeoutMs?: number;
  /** For error messages. */
  registry: string;
  repository?: string;
  /** Cancels the request, its body and its retries (a pull whose other blob failed). */
  signal?: AbortSignal;
}

const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);
/**
 * What a proxy answers while the registry behind it restarts: retried for the time budget, like a refused connection.
 */
const OUTAGE_STATUS = new Set([502, 503, 504]);
/** Retries of other failures (500, 408, 429) when the options give no count. */
const DEFAULT_RETRIES = 5;
const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);
const DEFAULT_UA = 'tsbuild/0.1 (+node-fetch)';

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Retry-After as seconds or an HTTP date; undefined when absent or unparsable. */
export function parseRetryAfter(v: string | null, now = Date.now()): number | undefined {
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

/** Network-level failures worth another attempt. */
export function isTransientError(e: unknown): boolean {
  const err = e as { name?: string; code?: string; type?: string; message?: string };
  if (err?.name === 'AbortError' || err?.name === 'TimeoutError') return true;
  if (err?.type === 'system' || err?.type === 'request-timeout' || err?.type === 'body-timeout') return true;
  const codes = [
    'ECONNRESET',
    'ECONNREFUSED',
    'EPIPE',
    'ETIMEDOUT',
    'EAI_AGAIN',
    'ENOTFOUND',
    'ECONNABORTED',
    'EHOSTUNREACH',
    'ENETUNREACH',
    'ERR_STREAM_PREMATURE_CLOSE',
  ];
  if (err?.code && codes.includes(err.code)) return true;
  return /socket hang up|premature close|other side closed|terminated/i.test(err?.message ?? '');
}

/**
 * The retries one operation may still make: at most `maxAttempts`, and none once `limitMs` have passed since its
 * first failure. Waits grow exponentially (with jitter) up to 5 s and never pass the deadline. `reset()` after
 * progress (bytes moved) gives a later outage the full budget again.
 */
export class RetryBudget {
  private since: number | undefined;
  private attempts = 0;
  constructor(
    readonly limitMs: number,
    private readonly maxAttempts: number,
    private readonly baseMs: number,
  ) {}

  /** The wait before the next attempt, or undefined when the budget is spent. */
  next(): number | undefined {
    const now = Date.now();
    this.since ??= now;
    const left = this.since + this.limitMs - now;
    if (this.attempts >= this.maxAttempts || left <= 0) return undefined;
    const exp = Math.min(this.baseMs * 2 ** this.attempts, 5000);
    this.attempts++;
    return Math.min(Math.round(exp / 2 + Math.random() * (exp / 2)), left);
  }

  /** Retries made so far (1 after the first). */
  get attempt(): number {
    return this.attempts;
  }

  remainingMs(): number {
    return this.since === undefined ? this.limitMs : Math.max(0, this.since + this.limitMs - Date.now());
  }

  reset(): void {
    this.since = undefined;
    this.attempts = 0;
  }
}

/** Seconds as the retry messages show them. */
export function formatSeconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

/** Errors and statuses that say the registry is down or restarting (not that the request is wrong). */
export function isOutage(e: unknown): boolean {
  const err = e as { code?: string; status?: number; cause?: { code?: string } };
  if (typeof err?.status === 'number') return OUTAGE_STATUS.has(err.status);
  // the error's own code, or its cause's (a RegistryError's code is 'REGISTRY'; the socket's is in its cause)
  for (const code of [err?.code, err?.cause?.code])
    if (code && ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE'].includes(code))
      return true;
  return /socket hang up|premature close|other side closed/i.test((e as Error)?.message ?? '');
}

function origin(u: URL): string {
  return `${u.protocol}//${u.host}`;
}

export class Transport {
  private readonly httpAgent: http.Agent;
  /** Made on first use: https (and tls under it) is not loaded for a plain-HTTP registry. */
  private httpsAgentMade: https.Agent | undefined;
  private readonly sockets: number;
  private readonly insecure: Set<string>;
  /** Explicit retry count, if the options give one. */
  readonly retries: number | undefined;
  private readonly baseMs: number;
  readonly timeoutMs: number;
  readonly retryMs: number;

  constructor(readonly opts: RegistryOptions) {
    const sockets = Math.max(8, (opts.concurrency ?? 4) * 2);
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: sockets });
    this.sockets = sockets;
    this.insecure = new Set((opts.insecure ?? []).map((h) => h.replace(/^https?:\/\//, '').replace(/\/+$/, '')));
    this.retries = opts.retries;
    this.baseMs = opts.retryBaseMs ?? 250;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.retryMs = (opts.retrySeconds ?? DEFAULT_RETRY_SECONDS) * 1000;
  }

  /**
   * A budget for one operation. `outage`: the registry is down or restarting, retried for the time budget (and an
   * explicit count); otherwise the count alone (default 5), as the time budget is meant for restarts.
   */
  budget(outage: boolean, retries = this.retries): RetryBudget {
    return new RetryBudget(
      outage ? this.retryMs : 10 * 60_000,
      retries ?? (outage ? Infinity : DEFAULT_RETRIES),
      this.baseMs,
    );
  }

  /** Announces a retry (verbose line and the onRetry callback). */
  retrying(n: RetryNotice): void {
    this.verbose(
      `${n.request}: ${n.message}; retry ${n.attempt} in ${n.waitMs} ms (${formatSeconds(n.remainingMs)} left)`,
    );
    this.opts.onRetry?.(n);
  }

  verbose(msg: string): void {
    this.opts.verbose?.(msg);
  }

  /** `https://host` or, for an insecure registry, `http://host`. docker.io is served by registry-1.docker.io. */
  baseURL(registry: string): string {
    if (/^https?:\/\//.test(registry)) return registry.replace(/\/+$/, '');
    const host = registry === 'docker.io' ? 'registry-1.docker.io' : registry;
    return `${this.insecure.has(registry) || this.insecure.has(host) ? 'http' : 'https'}://${host}`;
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgentMade?.destroy();
  }

  /** One request with redirects and retries. Returns the final response (also for 4xx/5xx once retries are spent). */
  async send(req: SendRequest): Promise<Response> {
    const outage = this.budget(true, req.retries);
    const other = this.budget(false, req.retries);
    const what = `${req.method} ${new URL(req.url).pathname}`;
    for (;;) {
      let res: Response;
      req.signal?.throwIfAborted();
      try {
        res = await this.followRedirects(req);
      } catch (e) {
        req.signal?.throwIfAborted();
        const budget = isOutage(e) ? outage : other;
        const wait = isTransientError(e) ? budget.next() : undefined;
        if (wait !== undefined) {
          this.retrying({
            registry: req.registry,
            repository: req.repository,
            request: what,
            message: (e as Error).message,
            attempt: budget.attempt,
            waitMs: wait,
            remainingMs: budget.remainingMs(),
          });
          await sleep(wait);
          continue;
        }
        const waited =
          outage.attempt > 0
            ? ` (retried ${outage.attempt} times for ${formatSeconds(outage.limitMs - outage.remainingMs())})`
            : '';
        throw new RegistryError(`cannot reach ${req.registry}: ${(e as Error).message}${waited}`, {
          registry: req.registry,
          repository: req.repository,
          cause: e,
          hint: isTransientError(e)
            ? `the registry did not answer${waited ? ` for ${formatSeconds(outage.limitMs)}` : ''}; check that it is running, the host and port, and --insecure-registry for plain HTTP (TSBUILD_REGISTRY_RETRY_SECONDS sets how long to wait for a registry that restarts)`
            : undefined,
        });
      }
      this.reportRateLimit(res);
      if (RETRY_STATUS.has(res.status) && !req.noRetryStatus?.includes(res.status)) {
        const budget = OUTAGE_STATUS.has(res.status) ? outage : other;
        const after = parseRetryAfter(res.headers.get('retry-after'));
        const next = budget.next();
        if (next !== undefined) {
          const wait = Math.min(after ?? next, 60_000);
          this.retrying({
            registry: req.registry,
            repository: req.repository,
            request: what,
            message: `HTTP ${res.status}`,
            attempt: budget.attempt,
            waitMs: wait,
            remainingMs: budget.remainingMs(),
          });
          await discardBody(res);
          await sleep(wait);
          continue;
        }
      }
      return res;
    }
  }

  private reportRateLimit(res: Response): void {
    const remaining = res.headers.get('ratelimit-remaining');
    if (remaining) {
      const limit = res.headers.get('ratelimit-limit') ?? '?';
      const source = res.headers.get('docker-ratelimit-source');
      this.verbose(`rate limit: ${remaining} of ${limit} pulls remaining${source ? ` (source ${source})` : ''}`);
    }
  }

  private async followRedirects(req: SendRequest): Promise<Response> {
    let url = new URL(req.url);
    const first = origin(url);
    let method = req.method;
    let headers: Record<string, string> = { 'user-agent': this.opts.userAgent ?? DEFAULT_UA, ...req.headers };
    let body = req.body?.();
    for (let hop = 0; hop < 10; hop++) {
      const ctl = new AbortController();
      const timer = setTimeout(() => ctl.abort(), req.timeoutMs ?? this.timeoutMs);
      let res: Response;
      try {
        res = await fetch(url.href, {
          method,
          headers,
          body,
          redirect: 'manual',
          compress: false,
          signal: (req.signal ? AbortSignal.any([ctl.signal, req.signal]) : ctl.signal) as never,
          agent: (u: URL) =>
            u.protocol === 'http:'
              ? this.httpAgent
              : (this.httpsAgentMade ??= new https.Agent({ keepAlive: true, maxSockets: this.sockets, ...tlsTrust() })),
        });
      } finally {
        clearTimeout(timer);
      }
      const location = res.headers.get('location');
      if (!REDIRECT_STATUS.has(res.status) || !location || (method !== 'GET' && method !== 'HEAD')) return res;
      await discardBody(res);
      const next = new URL(location, url);
      if (origin(next) !== first) {
        // Never send the registry's credentials to another host (a CDN, a storage bucket).
        headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
      }
      this.verbose(`${method} ${url.href} → ${res.status} ${next.href}`);
      if (res.status === 303) method = 'GET';
      body = undefined;
      url = next;
    }
    throw new RegistryError(`too many redirects for ${req.url}`, {
      registry: req.registry,
      repository: req.repository,
    });
  }
}
