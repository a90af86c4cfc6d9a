// Entitlements (`--allow`), as buildx has them: a Buildfile may ask for the host's network with
// `RUN --network=host`, but only the person running the build can grant it. Checked over the whole plan before
// any step runs, so a build does not fail half-way through.
import { UsageError } from '../oci/index.js';
import type { BuildOptions } from './options.js';
import type { BuildPlan } from './plan.js';

export const ENTITLEMENTS = ['network.host'] as const;
export type Entitlement = (typeof ENTITLEMENTS)[number];

/** A usage error: the CLI exits 2, as for its own. */
export class EntitlementError extends UsageError {
  override name = 'EntitlementError';
}

/** Validates `--allow` values: an unknown entitlement is refused by name, never ignored. */
export function parseEntitlements(values: string[]): Entitlement[] {
  for (const v of values) {
    if (!(ENTITLEMENTS as readonly string[]).includes(v)) {
      throw new EntitlementError(`--allow ${v} is not supported by tsbuild (only --allow network.host)`);
    }
  }
  return values as Entitlement[];
}

/** `RUN --network=host` is granted by `--allow network.host`, or by a build already on the host's network. */
export function allowsNetworkHost(opts: Pick<BuildOptions, 'allow' | 'network'>): boolean {
  return parseEntitlements(opts.allow ?? []).includes('network.host') || opts.network === 'host';
}

/** The message for a `RUN --network=host` that was not granted (also used by the RUN step itself). */
export function networkHostRefusal(where: string): string {
  return `${where}: RUN --network=host needs the network.host entitlement: run the build with --allow network.host (or --network host) if you trust this Buildfile with the host's network`;
}

/** Fails before any step runs when a needed stage has a RUN --network=host that was not granted. */
export function checkEntitlements(plan: BuildPlan, opts: Pick<BuildOptions, 'allow' | 'network'>): void {
  if (allowsNetworkHost(opts)) return;
  for (const i of plan.needed) {
    for (const ins of plan.stages[i]!.instructions) {
      if (ins.kind === 'run' && ins.network === 'host')
        throw new EntitlementError(networkHostRefusal(`${plan.file}:${ins.range.line}`));
    }
  }
}
