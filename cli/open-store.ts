// The store as every command opens it: lazy blobs (layers a build recorded without downloading) are fetched
// through the registry client, which loads only when one is read, with the command's mirrors and insecure list.
import type { Store } from '../store/index.js';
import type { GlobalOptions } from './context.js';

export async function openStoreFor(
  g: Pick<GlobalOptions, 'root' | 'registryMirrors' | 'insecureRegistries'>,
  opts: { recordUse?: boolean } = {},
): Promise<Store> {
  const { openStore } = await import('../store/index.js');
  const { registryBlobOpener } = await import('../registry-client/index.js');
  return openStore(g.root, {
    remote: registryBlobOpener({ mirrors: g.registryMirrors, insecure: g.insecureRegistries }),
    ...(opts.recordUse === false ? { recordUse: false } : {}),
  });
}
