// `tsbuild login` / `logout`: credentials are verified against the registry (Basic: GET /v2/; token auth: a token
// request with them) before they are written to config.json.
import { type Endpoint } from './auth.js';
import { RegistryClient } from './client.js';
import { defaultDockerConfigPath, removeCredentials, storeCredentials, type Credentials } from './credentials.js';
import { RegistryError } from './errors.js';
import { resolveRegistryOptions, type RegistryOptions } from './options.js';
import { discardBody } from './body-limit.js';

export async function login(
  registry: string,
  creds: Credentials,
  opts: RegistryOptions = {},
): Promise<{ configPath: string }> {
  const options = await resolveRegistryOptions(opts);
  const client = new RegistryClient(options);
  const configPath = options.dockerConfigPath ?? defaultDockerConfigPath();
  try {
    const ep: Endpoint = client.endpoints(registry, 'push')[0]!;
    client.auth.setCredentials(registry, creds);
    const ch = await client.auth.challenge(ep);
    if (ch?.scheme === 'bearer') {
      await client.auth.header(ep, []);
    } else if (ch?.scheme === 'basic') {
      const header = await client.auth.header(ep, []);
      const res = await client.transport.send({
        method: 'GET',
        url: `${ep.base}/v2/`,
        headers: header ? { authorization: header } : {},
        registry,
      });
      await discardBody(res);
      if (!res.ok) {
        throw new RegistryError(`login to ${registry} failed: HTTP ${res.status}`, {
          registry,
          status: res.status,
          hint: 'check the user name and password',
        });
      }
    }
    await storeCredentials(configPath, registry, creds);
    return { configPath };
  } finally {
    client.close();
  }
}

export async function logout(registry: string, opts: RegistryOptions = {}): Promise<boolean> {
  return removeCredentials(opts.dockerConfigPath ?? defaultDockerConfigPath(), registry);
}
