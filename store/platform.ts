// Choosing a stored index's entry for a platform. The matching rules are oci/platform.ts's; the store adds one
// leniency of its own: an image already on disk with the right os/arch but another variant is used rather than
// reported missing (what the store's resolver has always done).
import { selectPlatform, type Descriptor, type Platform } from '../oci/index.js';

export function selectStoredPlatform(manifests: readonly Descriptor[], want: Platform): Descriptor | undefined {
  return (
    selectPlatform(manifests, want) ??
    manifests.find((m) => m.platform?.os === want.os && m.platform.architecture === want.architecture)
  );
}
