// Platform strings (`linux/amd64`, `linux/arm/v7`) and the predefined build args derived from them.
import type { Platform } from '../oci/index.js';

export function hostPlatform(): Platform {
  const map: Record<string, { architecture: string; variant?: string }> = {
    x64: { architecture: 'amd64' },
    arm64: { architecture: 'arm64', variant: 'v8' },
    arm: { architecture: 'arm', variant: 'v7' },
    ia32: { architecture: '386' },
    ppc64: { architecture: 'ppc64le' },
    s390x: { architecture: 's390x' },
    riscv64: { architecture: 'riscv64' },
  };
  const a = map[process.arch] ?? { architecture: process.arch };
  return { os: 'linux', ...a };
}

export function parsePlatform(s: string): Platform {
  const parts = s.trim().toLowerCase().split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
    throw new Error(`invalid platform "${s}": expected os/arch[/variant]`);
  }
  let architecture = parts[1]!;
  if (architecture === 'x86_64' || architecture === 'x86-64') architecture = 'amd64';
  if (architecture === 'aarch64') architecture = 'arm64';
  return { os: parts[0]!, architecture, ...(parts[2] ? { variant: parts[2] } : {}) };
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant && p.architecture !== 'arm64' ? `/${p.variant}` : ''}`;
}

/** BUILDPLATFORM… and TARGETPLATFORM…, as BuildKit predefines them in the global scope. */
export function platformArgs(build: Platform, target: Platform): Map<string, string> {
  const m = new Map<string, string>();
  for (const [prefix, p] of [
    ['BUILD', build],
    ['TARGET', target],
  ] as const) {
    m.set(`${prefix}PLATFORM`, formatPlatform(p));
    m.set(`${prefix}OS`, p.os);
    m.set(`${prefix}ARCH`, p.architecture);
    m.set(`${prefix}VARIANT`, p.architecture === 'arm64' ? '' : (p.variant ?? ''));
  }
  return m;
}

/** Build args usable without an ARG line and kept out of the history (Docker's list). */
export const PROXY_ARGS = new Set([
  'HTTP_PROXY',
  'http_proxy',
  'HTTPS_PROXY',
  'https_proxy',
  'FTP_PROXY',
  'ftp_proxy',
  'NO_PROXY',
  'no_proxy',
  'ALL_PROXY',
  'all_proxy',
]);
