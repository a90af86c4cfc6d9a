// OCI platforms: the host's, `os/arch[/variant]` strings, and choosing an index entry for a wanted platform
// (containerd's matcher: exact os/arch, variant ranked, arm64 v8 ≡ no variant, armv7 runs v6 and v5). The builder,
// the store and the registry client each had a copy of these; this is the one they share.
import { isIndexMediaType, type Descriptor, type Platform } from './types.js';

// Node's `process.arch` → the OCI architecture name.
const ARCH: Record<string, string> = {
  x64: 'amd64',
  ia32: '386',
  arm64: 'arm64',
  arm: 'arm',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
  mips: 'mips',
  mipsel: 'mipsle',
};

export function hostPlatform(arch: string = process.arch): Platform {
  const a = ARCH[arch] ?? arch;
  if (a === 'arm64') return { os: 'linux', architecture: 'arm64', variant: 'v8' };
  if (a === 'arm') {
    // The ARM version Node was built for (6 on a Raspberry Pi Zero); 7 when Node does not say.
    const v = (process.config.variables as { arm_version?: string }).arm_version;
    return { os: 'linux', architecture: 'arm', variant: `v${v ?? '7'}` };
  }
  return { os: 'linux', architecture: a };
}

/** containerd's rule for each part of a platform specifier (platforms.Parse): letters, digits, `_` and `-`. */
const PART = /^[a-z0-9_-]+$/;

/**
 * Parses `os/arch[/variant]` (`linux/arm/v7`, `linux/arm64`); `x86_64` and `aarch64` are accepted as aliases. A
 * comma-separated list is refused by name: one platform per build until multi-platform builds exist.
 */
export function parsePlatform(s: string): Platform {
  const text = s.trim().toLowerCase();
  if (text.includes(','))
    throw new Error(`"${s}" is a list of platforms: multi-platform builds are not supported yet (one per build)`);
  const parts = text.split('/');
  if (parts.length < 1 || parts.length > 3 || parts.some((p) => !PART.test(p)))
    throw new Error(`invalid platform "${s}": expected os/arch[/variant]`);
  // One part, as containerd reads it: an OS runs on this machine's architecture, an architecture on Linux.
  if (parts.length === 1) {
    const [word] = parts as [string];
    if (KNOWN_OS.has(word)) return { ...hostPlatform(), os: word };
    const arch = normArch(word);
    if (KNOWN_ARCH.has(arch)) return { os: 'linux', architecture: arch };
    throw new Error(`invalid platform "${s}": expected os/arch[/variant] (one word: a known OS or architecture)`);
  }
  const [os, architecture, variant] = parts as [string, string, string?];
  return { os, architecture: normArch(architecture), ...(variant ? { variant } : {}) };
}

function normArch(a: string): string {
  return a === 'x86_64' || a === 'x86-64' ? 'amd64' : a === 'aarch64' ? 'arm64' : a;
}

// containerd's lists (platforms/database.go) for a platform given as one word
const KNOWN_OS = new Set([
  'aix',
  'android',
  'darwin',
  'dragonfly',
  'freebsd',
  'illumos',
  'ios',
  'js',
  'linux',
  'netbsd',
  'openbsd',
  'plan9',
  'solaris',
  'wasip1',
  'windows',
]);
const KNOWN_ARCH = new Set([
  '386',
  'amd64',
  'arm',
  'arm64',
  'loong64',
  'mips',
  'mips64',
  'mips64le',
  'mipsle',
  'ppc64',
  'ppc64le',
  'riscv64',
  's390x',
  'wasm',
]);

/** `os/arch[/variant]`, the variant as given. */
export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

function normVariant(p: Platform): string {
  if (p.architecture === 'arm64') return p.variant && p.variant !== 'v8' ? p.variant : 'v8';
  if (p.architecture === 'arm') return p.variant ?? 'v7';
  return p.variant ?? '';
}

/** Lower is better; undefined when `have` cannot run on `want`. */
export function platformRank(want: Platform, have: Platform | undefined): number | undefined {
  if (!have || have.os !== want.os || have.architecture !== want.architecture) return undefined;
  const w = normVariant(want);
  const h = normVariant(have);
  if (w === h) return 0;
  if (want.architecture === 'arm') {
    const order = ['v8', 'v7', 'v6', 'v5'];
    const wi = order.indexOf(w);
    const hi = order.indexOf(h);
    if (wi >= 0 && hi > wi) return hi - wi;
    return undefined;
  }
  // An explicit variant request must match; with none requested any variant of the arch will do.
  if (want.variant && want.architecture !== 'arm64') return undefined;
  return want.variant ? undefined : 10;
}

/** The best image manifest among an index's entries for `want` (nested indexes and attestations skipped). */
export function selectPlatform(manifests: readonly Descriptor[], want: Platform): Descriptor | undefined {
  let best: { d: Descriptor; r: number } | undefined;
  for (const d of manifests) {
    if (isIndexMediaType(d.mediaType)) continue;
    if (d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest') continue;
    const r = platformRank(want, d.platform);
    if (r !== undefined && (!best || r < best.r)) best = { d, r };
  }
  return best?.d;
}
