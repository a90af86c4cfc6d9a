// GET of a URL for ADD and for a remote build context: Node's HTTP(S) through node-fetch (as the registry client),
// redirects followed, with the certificate authorities tsbuild trusts (oci/tls-trust.ts: Node's roots plus
// NODE_EXTRA_CA_CERTS, which bin/tsbuild keeps from Node's start). The body is a Node stream.
import https from 'node:https';
import fetch, { type Response } from 'node-fetch';
import { tlsTrust } from '../oci/index.js';

let agent: https.Agent | undefined;

export function download(url: string, signal?: AbortSignal): Promise<Response> {
  return fetch(url, {
    redirect: 'follow',
    ...(signal ? { signal: signal as never } : {}),
    agent: (u: URL) => (u.protocol === 'https:' ? (agent ??= new https.Agent({ ...tlsTrust() })) : undefined),
  });
}
