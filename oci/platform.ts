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
 * comma-separated list is refused by name (FROM --platform, run and inspect take one; a build's --platform list is
 * parsePlatformList's).
 */
export function parsePlatform(s: string): Platform {
  const text = s.trim().toLowerCase();
  if (text.includes(',')) throw new Error(`"${s}" is a list of platforms: one platform is expected here`);
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

/**
 * `--platform p1,p2,…`: each platform parsed, in the order given, a repeat dropped (buildx dedupes the list too).
 * One platform gives a list of one.
 */
export function parsePlatformList(s: string): Platform[] {
  const out: Platform[] = [];
  const seen = new Set<string>();
  for (const word of s.split(',')) {
    if (word.trim() === '') throw new Error(`invalid platform list "${s}": an empty entry`);
    const p = parsePlatform(word);
    const key = formatPlatform(normalizePlatform(p));
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(p);
  }
  return out;
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

/**
 * containerd's `platforms.Normalize` for matching: arm64's v8 is no variant, arm without one is v7, amd64's v1 is
 * no variant, a bare number is `vN`.
 */
export function normalizePlatform(p: Platform): Platform {
  const architecture = normArch(p.architecture.toLowerCase());
  let variant = (p.variant ?? '').toLowerCase();
  if (/^\d+$/.test(variant)) variant = `v${variant}`;
  if (architecture === 'arm64' && (variant === 'v8' || variant === 'v8.0')) variant = '';
  if (architecture === 'arm' && variant === '') variant = 'v7';
  if (architecture === 'amd64' && variant === 'v1') variant = '';
  return { os: p.os.toLowerCase(), architecture, ...(variant ? { variant } : {}) };
}

/**
 * What a machine of platform `want` runs, best first: containerd's `platforms.Only` vector. amd64/vN runs vN…v1
 * and 386; arm/vN runs vN…v5; arm64 runs arm64 and arm/v8…v5.
 */
function compatible(want: Platform): Platform[] {
  const w = normalizePlatform(want);
  const out: Platform[] = [w];
  const arm = (from: number): void => {
    for (let v = from; v >= 5; v--) out.push({ os: w.os, architecture: 'arm', variant: `v${v}` });
  };
  const n = Number(/^v(\d+)$/.exec(w.variant ?? '')?.[1] ?? NaN);
  if (w.architecture === 'amd64') {
    for (let v = n - 1; v >= 1; v--)
      out.push({ os: w.os, architecture: 'amd64', ...(v > 1 ? { variant: `v${v}` } : {}) });
    out.push({ os: w.os, architecture: '386' });
  } else if (w.architecture === 'arm') {
    if (n > 5) arm(n - 1);
  } else if (w.architecture === 'arm64') {
    // arm64/v8.x and v9.x: the plain arm64 (v8) entry is the next best
    if (w.variant) out.push({ os: w.os, architecture: 'arm64' });
    arm(8);
  }
  return out;
}

/** Lower is better (the place in containerd's `platforms.Only` order); undefined when `have` cannot run on `want`. */
export function platformRank(want: Platform, have: Platform | undefined): number | undefined {
  if (!have) return undefined;
  const h = normalizePlatform(have);
  const i = compatible(want).findIndex(
    (c) => c.os === h.os && c.architecture === h.architecture && (c.variant ?? '') === (h.variant ?? ''),
  );
  return i >= 0 ? i : undefined;
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
