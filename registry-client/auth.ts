// The distribution auth flow: `GET /v2/` → 401 with WWW-Authenticate → Basic credentials, or a Bearer token from
// the realm for the needed scopes (`repository:NAME:pull,push`), anonymous or with credentials, cached per scope
// until it expires. Docker Hub, Harbor, GHCR and the Debian `docker-registry` with token auth all work this way.
import type { Credentials } from './credentials.js';
import { hintForStatus, RegistryError } from './errors.js';
import type { Transport } from './transport.js';
import { discardBody, MAX_TOKEN_BODY, readBodyLimited } from './body-limit.js';

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Where requests go: the base URL and the registry name used for credentials and messages. */
export interface Endpoint {
  base: string;
  registry: string;
  /** True for a docker.io mirror (failures fall back to the next endpoint). */
  mirror?: boolean;
}

/** Parses `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="…"`. */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  const token = /\s*,?\s*([\w!#$%&'*+.^`|~-]+)\s*(=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*)))?/y;
  let cur: Challenge | undefined;
  let m: RegExpExecArray | null;
  while (token.lastIndex < header.length && (m = token.exec(header))) {
    if (m[0] === '') break;
    if (m[2] === undefined) {
      cur = { scheme: m[1]!.toLowerCase(), params: {} };
      out.push(cur);
    } else if (cur) {
      cur.params[m[1]!.toLowerCase()] = m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : (m[4] ?? '');
    }
  }
  return out;
}

/** True when scope `have` grants everything `want` asks (`repository:a/b:pull,push` covers `repository:a/b:pull`). */
function covers(have: string, want: string): boolean {
  if (have === want) return true;
  const h = have.lastIndexOf(':');
  const w = want.lastIndexOf(':');
  if (h < 0 || w < 0 || have.slice(0, h) !== want.slice(0, w)) return false;
  const actions = new Set(have.slice(h + 1).split(','));
  return want
    .slice(w + 1)
    .split(',')
    .every((a) => actions.has(a) || actions.has('*'));
}

export function repositoryScope(repository: string, actions: ('pull' | 'push')[]): string {
  return `repository:${repository}:${actions.join(',')}`;
}

interface CachedToken {
  value: string;
  expiresAt: number;
}

export class Authenticator {
  private readonly challenges = new Map<string, Promise<Challenge | null>>();
  private readonly tokens = new Map<string, Promise<CachedToken>>();
  private readonly creds = new Map<string, Promise<Credentials | undefined>>();
  /** Token requests made, for verbose output and tests: `scope…` per request. */
  readonly tokenRequests: string[][] = [];

  constructor(
    private readonly transport: Transport,
    private readonly lookup: (registry: string) => Promise<Credentials | undefined>,
    private readonly now: () => number = Date.now,
  ) {}

  credentials(registry: string): Promise<Credentials | undefined> {
    let c = this.creds.get(registry);
    if (!c) this.creds.set(registry, (c = this.lookup(registry)));
    return c;
  }

  /** Overrides the credentials for one registry (login verification uses this). */
  setCredentials(registry: string, c: Credentials | undefined): void {
    this.creds.set(registry, Promise.resolve(c));
    for (const k of [...this.tokens.keys()]) if (k.startsWith(`${registry} `)) this.tokens.delete(k);
  }

  /** Pings `/v2/` once per endpoint to learn how it authenticates (null: no auth needed). */
  challenge(ep: Endpoint): Promise<Challenge | null> {
    let c = this.challenges.get(ep.base);
    if (!c) {
      c = this.ping(ep);
      this.challenges.set(ep.base, c);
      c.catch(() => this.challenges.delete(ep.base));
    }
    return c;
  }

  private async ping(ep: Endpoint): Promise<Challenge | null> {
    // A mirror that does not answer is skipped quickly: the next endpoint is the fallback.
    const res = await this.transport.send({
      method: 'GET',
      url: `${ep.base}/v2/`,
      registry: ep.registry,
      ...(ep.mirror ? { retries: 1 } : {}),
    });
    await discardBody(res);
    if (res.status === 401) {
      const cs = parseChallenges(res.headers.get('www-authenticate') ?? '');
      return cs.find((c) => c.scheme === 'bearer') ?? cs.find((c) => c.scheme === 'basic') ?? null;
    }
    if (res.status >= 500)
      throw new RegistryError(`registry answered /v2/ with HTTP ${res.status}`, {
        registry: ep.registry,
        status: res.status,
      });
    return null;
  }

  /**
   * The Authorization header value for requests needing `scopes`, or undefined when none is needed/available.
   * `unprobed`: for a request that can be sent again (a GET or HEAD) to an endpoint not asked yet, no `/v2/` ping
   * first: the request goes without credentials, and a 401 answer's challenge serves as the ping's would
   * (`refresh`), as containerd does. An open registry then costs no extra round trip; a token one the same as
   * before (the 401 replaces the ping's).
   */
  async header(ep: Endpoint, scopes: string[], unprobed = false): Promise<string | undefined> {
    if (unprobed && !this.challenges.has(ep.base)) return undefined;
    const ch = await this.challenge(ep);
    if (!ch) return undefined;
    if (ch.scheme === 'basic') {
      const c = await this.credentials(ep.registry);
      return c && !c.identityToken
        ? `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`
        : undefined;
    }
    if (ch.scheme !== 'bearer' || !ch.params.realm) return undefined;
    const t = await this.token(ep, ch, scopes);
    return `Bearer ${t.value}`;
  }

  /**
   * After a 401 on a request: learns the (possibly new) challenge, drops the cached token and returns a fresh
   * header, adding a scope the registry asked for. Undefined when retrying cannot help.
   */
  async refresh(
    ep: Endpoint,
    wwwAuthenticate: string | null,
    scopes: string[],
  ): Promise<{ header: string; scopes: string[] } | undefined> {
    const cs = parseChallenges(wwwAuthenticate ?? '');
    const ch = cs.find((c) => c.scheme === 'bearer') ?? cs.find((c) => c.scheme === 'basic');
    if (!ch) return undefined;
    this.challenges.set(ep.base, Promise.resolve(ch));
    const asked = ch.params.scope
      ? ch.params.scope.split(' ').filter((x) => !scopes.some((have) => covers(have, x)))
      : [];
    const all = [...new Set([...scopes, ...asked])];
    this.tokens.delete(this.tokenKey(ep, all));
    const header = await this.header(ep, all);
    return header ? { header, scopes: all } : undefined;
  }

  private tokenKey(ep: Endpoint, scopes: string[]): string {
    return `${ep.registry} ${ep.base} ${[...scopes].sort().join(' ')}`;
  }

  private async token(ep: Endpoint, ch: Challenge, scopes: string[]): Promise<CachedToken> {
    const key = this.tokenKey(ep, scopes);
    const cached = this.tokens.get(key);
    if (cached) {
      const t = await cached.catch(() => undefined);
      if (t && t.expiresAt > this.now()) return t;
    }
    const p = this.fetchToken(ep, ch, scopes);
    this.tokens.set(key, p);
    p.catch(() => this.tokens.delete(key));
    return p;
  }

  private async fetchToken(ep: Endpoint, ch: Challenge, scopes: string[]): Promise<CachedToken> {
    const creds = await this.credentials(ep.registry);
    const realm = new URL(ch.params.realm!);
    this.tokenRequests.push([...scopes]);
    let res;
    if (creds?.identityToken) {
      // OAuth2 refresh-token grant, as docker does with identity tokens.
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: creds.identityToken,
        client_id: 'tsbuild',
        service: ch.params.service ?? '',
        scope: scopes.join(' '),
      });
      res = await this.transport.send({
        method: 'POST',
        url: realm.href,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: () => form.toString(),
        registry: ep.registry,
      });
    } else {
      if (ch.params.service) realm.searchParams.set('service', ch.params.service);
      for (const s of scopes) realm.searchParams.append('scope', s);
      const headers: Record<string, string> = {};
      if (creds) {
        realm.searchParams.set('account', creds.username);
        headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
      }
      res = await this.transport.send({ method: 'GET', url: realm.href, headers, registry: ep.registry });
    }
    if (!res.ok) await discardBody(res);
    const text = res.ok
      ? (
          await readBodyLimited(
            res,
            MAX_TOKEN_BODY,
            () =>
              new RegistryError(
                `token response from ${realm.origin}${realm.pathname} is larger than ${MAX_TOKEN_BODY >> 20} MiB, the limit; the download was stopped`,
                { registry: ep.registry },
              ),
          )
        ).toString('utf8')
      : '';
    if (!res.ok) {
      throw new RegistryError(`token request to ${realm.origin}${realm.pathname} failed with HTTP ${res.status}`, {
        registry: ep.registry,
        status: res.status,
        hint:
          res.status === 401 || res.status === 403
            ? creds
              ? `the stored credentials for ${ep.registry} were rejected: run \`tsbuild login ${ep.registry}\``
              : hintForStatus(401, ep.registry, 'pull')
            : undefined,
      });
    }
    const body = JSON.parse(text) as { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    const value = body.token ?? body.access_token;
    if (!value)
      throw new RegistryError(`token response from ${realm.origin} carries no token`, { registry: ep.registry });
    const lifetime = Math.max(60, body.expires_in ?? 60) * 1000;
    const issued = body.issued_at ? Date.parse(body.issued_at) : NaN;
    const start = Number.isNaN(issued) ? this.now() : Math.min(issued, this.now());
    return { value, expiresAt: start + lifetime - 10_000 };
  }
}
