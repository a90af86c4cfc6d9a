// The predefined build args derived from the build and target platforms. Parsing and matching platforms is
// oci/platform.ts's.
import { formatPlatform, normalizePlatform, type Platform } from '../oci/index.js';

/** A platform as BUILDPLATFORM/TARGETPLATFORM spell it: arm64 without its variant (BuildKit's `linux/arm64`). */
export function platformArg(p: Platform): string {
  return formatPlatform(p.architecture === 'arm64' ? { os: p.os, architecture: p.architecture } : p);
}

/** BUILDPLATFORM… and TARGETPLATFORM…, as BuildKit predefines them in the global scope. */
export function platformArgs(build: Platform, target: Platform): Map<string, string> {
  const m = new Map<string, string>();
  for (const [prefix, p] of [
    ['BUILD', build],
    ['TARGET', target],
  ] as const) {
    m.set(`${prefix}PLATFORM`, platformArg(p));
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

/**
 * BuildKit's `InvalidBaseImagePlatform` warning when a base image's config names another OS or architecture than
 * `expected` (a single-platform image pulled for another target): the build goes on, as BuildKit's does, but the
 * result labels one architecture's binaries as another's. BuildKit compares OS and architecture only (an arm/v6 base
 * of an arm/v7 build is not reported) and prints both normalised (containerd's FormatAll). Undefined when they
 * agree. The message only: the build reports it as a check (env.check), with the rule's name and the FROM line.
 */
export function basePlatformWarning(
  baseName: string,
  expected: Platform,
  config: { os: string; architecture: string; variant?: string | undefined },
): string | undefined {
  const want = normalizePlatform(expected);
  const actual = normalizePlatform({
    os: config.os,
    architecture: config.architecture,
    ...(config.variant ? { variant: config.variant } : {}),
  });
  if (want.os === actual.os && want.architecture === actual.architecture) return undefined;
  return (
    `Base image ${baseName} was pulled with platform ${JSON.stringify(formatPlatform(actual))}, ` +
    `expected ${JSON.stringify(formatPlatform(want))} for current build`
  );
}
