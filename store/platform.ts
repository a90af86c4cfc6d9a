// The host's OCI platform, and matching index entries against a wanted platform.
import type { Descriptor, Platform } from '../oci/index.js';

export function hostPlatform(): { os: string; architecture: string; variant?: string } {
  switch (process.arch) {
    case 'x64':
      return { os: 'linux', architecture: 'amd64' };
    case 'arm64':
      return { os: 'linux', architecture: 'arm64', variant: 'v8' };
    case 'arm':
      return { os: 'linux', architecture: 'arm', variant: 'v7' };
    case 'ia32':
      return { os: 'linux', architecture: '386' };
    default:
      return { os: 'linux', architecture: process.arch };
  }
}

/** The best entry of an index for `want`: exact variant first, then any variant of the architecture. */
export function selectPlatform(
  manifests: Descriptor[],
  want: { os: string; architecture: string; variant?: string },
): Descriptor | undefined {
  const cands = manifests.filter(
    (m) => m.platform && m.platform.os === want.os && m.platform.architecture === want.architecture,
  );
  if (cands.length === 0) return undefined;
  const norm = (p: Platform | undefined): string | undefined =>
    p?.architecture === 'arm64' && !p.variant ? 'v8' : p?.variant;
  const wantVariant = want.architecture === 'arm64' && !want.variant ? 'v8' : want.variant;
  return (
    cands.find((m) => norm(m.platform) === wantVariant) ??
    (wantVariant === undefined ? cands[0] : undefined) ??
    cands[0]
  );
}
