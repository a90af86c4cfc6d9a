// Manifest media types, the Accept header we send, and platform selection in manifest lists / OCI indexes
// (containerd's matcher: exact os/arch, variant ranked, arm64 v8 ≡ no variant, armv7 runs v6 and v5).
import { arch } from 'node:process';
import {
  isIndexMediaType,
  MediaType,
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  type Platform,
} from '../oci/index.js';

export const MANIFEST_ACCEPT = [
  MediaType.OciIndex,
  MediaType.DockerManifestList,
  MediaType.OciManifest,
  MediaType.DockerManifest,
].join(', ');

export type AnyManifest = ImageManifest | ImageIndex;

/** The media type of a manifest: the body's field, else the Content-Type, else guessed from its shape. */
export function manifestMediaType(parsed: AnyManifest, contentType: string | null): string {
  if (parsed.mediaType) return parsed.mediaType;
  const ct = contentType?.split(';')[0]?.trim();
  if (ct && ct !== 'application/json' && ct !== 'text/plain') return ct;
  return 'manifests' in parsed ? MediaType.OciIndex : MediaType.OciManifest;
}

export function isIndex(m: AnyManifest, mediaType?: string): m is ImageIndex {
  return isIndexMediaType(mediaType) || Array.isArray((m as ImageIndex).manifests);
}

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

export function hostPlatform(): Platform {
  const a = ARCH[arch] ?? arch;
  if (a === 'arm64') return { os: 'linux', architecture: 'arm64', variant: 'v8' };
  if (a === 'arm') {
    const v = (process.config.variables as { arm_version?: string }).arm_version;
    return { os: 'linux', architecture: 'arm', variant: `v${v ?? '7'}` };
  }
  return { os: 'linux', architecture: a };
}

/** Parses `os/arch[/variant]` (`linux/arm/v7`, `linux/arm64`). */
export function parsePlatform(s: string): Platform {
  const parts = s.trim().toLowerCase().split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === ''))
    throw new Error(`invalid platform "${s}": expected os/arch[/variant]`);
  const [os, architecture, variant] = parts as [string, string, string?];
  const norm =
    architecture === 'x86_64' || architecture === 'x86-64'
      ? 'amd64'
      : architecture === 'aarch64'
        ? 'arm64'
        : architecture;
  return { os, architecture: norm, ...(variant ? { variant } : {}) };
}

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

/** The best manifest of an index for a platform, or undefined. */
export function selectPlatform(index: ImageIndex, want: Platform): Descriptor | undefined {
  let best: { d: Descriptor; r: number } | undefined;
  for (const d of index.manifests) {
    if (isIndexMediaType(d.mediaType)) continue;
    if (d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest') continue;
    const r = platformRank(want, d.platform);
    if (r !== undefined && (!best || r < best.r)) best = { d, r };
  }
  return best?.d;
}
