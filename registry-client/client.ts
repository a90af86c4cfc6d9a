// A registry session: one Transport and one Authenticator shared by every repository it talks to, and `Repo`, the
// requests for one repository on one endpoint (auth header attached, one re-authentication on 401, errors with
// the registry's own codes and a hint).
import type { Response } from 'node-fetch';
import { Authenticator, repositoryScope, type Endpoint } from './auth.js';
import { defaultDockerConfigPath, lookupCredentials } from './credentials.js';
import { hintForStatus, RegistryError } from './errors.js';
import type { RegistryOptions } from './options.js';
import { Transport, type SendRequest } from './transport.js';
import { discardBody, MAX_ERROR_BODY, readTextLimited } from './body-limit.js';

export class RegistryClient {
  readonly transport: Transport;
  readonly auth: Authenticator;

  constructor(readonly opts: RegistryOptions) {
    this.transport = new Transport(opts);
    const paths = [
      ...(opts.authConfigPath ? [opts.authConfigPath] : []),
      opts.dockerConfigPath ?? defaultDockerConfigPath(),
    ];
    this.auth = new Authenticator(this.transport, (registry) => lookupCredentials(registry, paths));
  }

  /** Where to send requests for a registry: for docker.io pulls, the mirrors first, then Docker Hub. */
  endpoints(registry: string, purpose: 'pull' | 'push'): Endpoint[] {
    const main: Endpoint = { base: this.transport.baseURL(registry), registry };
    if (registry !== 'docker.io' || purpose === 'push') return [main];
    const mirrors = (this.opts.mirrors ?? []).map((m) => {
      const url = /^https?:\/\//.test(m) ? m : this.transport.baseURL(m);
      return { base: url.replace(/\/+$/, ''), registry: new URL(url).host, mirror: true };
    });
    return [...mirrors, main];
  }

  repo(ep: Endpoint, repository: string, actions: ('pull' | 'push')[]): Repo {
    return new Repo(this, ep, repository, actions);
  }

  close(): void {
    this.transport.close();
  }
}

export interface RepoRequest extends Omit<SendRequest, 'registry' | 'repository' | 'url'> {
  /** A path below `/v2/<repository>` (`/manifests/latest`) or an absolute URL (an upload Location). */
  path: string;
  /** Further scopes (`repository:OTHER:pull` for a cross-repository mount). */
  extraScopes?: string[];
  /**
   * False for a body that cannot be sent again (an upload chunk read from a shared stream): on a 401 the token
   * is renewed but the 401 is returned, and the caller resumes from the registry's upload state.
   */
  replayable?: boolean;
}

interface ErrorBody {
  errors?: { code?: string; message?: string }[];
}

export class Repo {
  constructor(
    readonly client: RegistryClient,
    readonly endpoint: Endpoint,
    readonly repository: string,
    readonly actions: ('pull' | 'push')[],
  ) {}

  get registry(): string {
    return this.endpoint.registry;
  }

  url(path: string): string {
    if (/^https?:\/\//.test(path)) return path;
    if (path.startsWith('/v2/')) return `${this.endpoint.base}${path}`;
    return `${this.endpoint.base}/v2/${this.repository}${path}`;
  }

  async request(req: RepoRequest): Promise<Response> {
    let scopes = [repositoryScope(this.repository, this.actions), ...(req.extraScopes ?? [])];
    const auth = this.client.auth;
    // A request without a body (GET, HEAD, the POST that opens an upload) to a registry (not a mirror: its ping,
    // with one retry, is what skips a dead one quickly) is sent without pinging /v2/ first; a 401 teaches the
    // challenge and the request is sent again, as a ping would have cost a round trip anyway.
    const unprobed =
      (req.method === 'GET' || req.method === 'HEAD' || (req.method === 'POST' && req.body === undefined)) &&
      req.replayable !== false &&
      !this.endpoint.mirror;
    let header = await auth.header(this.endpoint, scopes, unprobed);
    const send = (h: string | undefined): Promise<Response> =>
      this.client.transport.send({
        ...req,
        url: this.url(req.path),
        headers: { ...req.headers, ...(h ? { authorization: h } : {}) },
        registry: this.registry,
        repository: this.repository,
      });
    const res = await send(header);
    if (res.status !== 401) return res;
    const fresh = await auth.refresh(this.endpoint, res.headers.get('www-authenticate'), scopes);
    if (!fresh || fresh.header === header || req.replayable === false) return res;
    await discardBody(res);
    ({ header, scopes } = fresh);
    return send(header);
  }

  /** Throws a RegistryError for a non-2xx response, with the registry's error codes and a hint. */
  async fail(res: Response, what: string): Promise<never> {
    let codes: string[] = [];
    let detail = '';
    try {
      // an error body is a few lines of JSON: a longer one is dropped unread (its connection closed)
      const text = await readTextLimited(res, MAX_ERROR_BODY);
      const body = JSON.parse(text ?? '{}') as ErrorBody;
      codes = (body.errors ?? []).map((e) => e.code ?? '').filter(Boolean);
      detail = (body.errors ?? [])
        .map((e) => e.message)
        .filter(Boolean)
        .join('; ');
    } catch {
      // not a JSON error body
    }
    const action = this.actions.includes('push') ? 'push' : 'pull';
    throw new RegistryError(`${what} failed: HTTP ${res.status}${detail ? ` (${detail})` : ''}`, {
      registry: this.registry,
      repository: this.repository,
      status: res.status,
      codes,
      hint: hintForStatus(res.status, this.registry, action),
    });
  }
}
