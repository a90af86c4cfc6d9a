// HTTP for the registry client: keep-alive agents, plain HTTP for insecure registries, redirects followed by hand
// (the Authorization header never leaves the origin it was meant for), and retries with backoff on connection
// resets, timeouts, 5xx and 429 (honouring Retry-After).
import http from 'node:http';
import https from 'node:https';
import fetch, { type BodyInit, type Response } from 'node-fetch';
import { RegistryError } from './errors.js';
import type { RegistryOptions } from './options.js';
import { discardBody } from './body-limit.js';

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
}

const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);
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
  const codes = ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'ERR_STREAM_PREMATURE_CLOSE'];
  if (err?.code && codes.includes(err.code)) return true;
  return /socket hang up|premature close|other side closed|terminated/i.test(err?.message ?? '');
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
  readonly retries: number;
  private readonly baseMs: number;
  readonly timeoutMs: number;

  constructor(readonly opts: RegistryOptions) {
    const sockets = Math.max(8, (opts.concurrency ?? 4) * 2);
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: sockets });
    this.sockets = sockets;
    this.insecure = new Set((opts.insecure ?? []).map((h) => h.replace(/^https?:\/\//, '').replace(/\/+$/, '')));
    this.retries = opts.retries ?? 5;
    this.baseMs = opts.retryBaseMs ?? 250;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
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
    const retries = req.retries ?? this.retries;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await this.followRedirects(req);
      } catch (e) {
        // Nothing listening is unlikely to change within seconds: two more tries, not the full budget.
        const refused = (e as { code?: string }).code === 'ECONNREFUSED' || (e as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED';
        if (attempt < (refused ? Math.min(retries, 2) : retries) && isTransientError(e)) {
          const wait = this.backoff(attempt);
          this.verbose(`${req.method} ${req.url}: ${(e as Error).message}; retry ${attempt + 1}/${retries} in ${wait} ms`);
          await sleep(wait);
          continue;
        }
        throw new RegistryError(`cannot reach ${req.registry}: ${(e as Error).message}`, {
          registry: req.registry,
          repository: req.repository,
          cause: e,
          hint: isTransientError(e) ? 'the registry did not answer; check the host, port, and --insecure-registry for plain HTTP' : undefined,
        });
      }
      this.reportRateLimit(res);
      if (RETRY_STATUS.has(res.status) && !req.noRetryStatus?.includes(res.status) && attempt < retries) {
        const after = parseRetryAfter(res.headers.get('retry-after'));
        const wait = Math.min(after ?? this.backoff(attempt), 60_000);
        this.verbose(`${req.method} ${req.url}: HTTP ${res.status}; retry ${attempt + 1}/${retries} in ${wait} ms`);
        await discardBody(res);
        await sleep(wait);
        continue;
      }
      return res;
    }
  }

  private backoff(attempt: number): number {
    const exp = Math.min(this.baseMs * 2 ** attempt, 10_000);
    return Math.round(exp / 2 + Math.random() * (exp / 2));
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
          signal: ctl.signal as never,
          agent: (u: URL) => (u.protocol === 'http:' ? this.httpAgent : (this.httpsAgentMade ??= new https.Agent({ keepAlive: true, maxSockets: this.sockets }))),
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
    throw new RegistryError(`too many redirects for ${req.url}`, { registry: req.registry, repository: req.repository });
  }
}
