// The certificate authorities tsbuild's own HTTPS connections trust: Node's default, plus the file named by
// NODE_EXTRA_CA_CERTS, which bin/tsbuild keeps away from Node's start and hands to this module instead.
//
// Why: Node 20 reads and parses that file, and its own bundled roots with it, before any code runs (≈ 50 ms of every
// process here, a third of a no-op rebuild); Node 24 does it on the first TLS connection. bin/tsbuild's first line
// moves the variable aside (`env -u NODE_EXTRA_CA_CERTS TSB_CA=…`) and puts it back into the
// environment before the CLI runs, so child processes see it as the user set it. Every HTTPS client in tsbuild then
// passes `ca` explicitly: Node's bundled roots plus the file, which is what Node's default store holds with the
// variable set. (An explicit `ca` replaces the default store; a Node that uses the system store instead,
// --use-openssl-ca, --use-system-ca or a build with --openssl-use-def-ca-store, is never started this way:
// bin/tsbuild starts Node again with the variable.)
import { readFileSync } from 'node:fs';
import * as tls from 'node:tls';

let trusted: { ca: string[] } | undefined | null = null;

/**
 * `{ ca }` for an HTTPS agent or TLS connection when NODE_EXTRA_CA_CERTS names a file, else nothing (Node's
 * default store). Read once; a file that cannot be read is warned about and left out, as Node itself does.
 */
export function tlsTrust(): { ca: string[] } | undefined {
  if (trusted !== null) return trusted;
  const file = process.env.NODE_EXTRA_CA_CERTS;
  trusted = undefined;
  // a Node on the system store was started with the variable (bin/tsbuild) and holds the file already
  if (!file || systemStore()) return trusted;
  try {
    trusted = { ca: [...tls.rootCertificates, readFileSync(file, 'latin1')] };
  } catch (e) {
    process.emitWarning(`Ignoring extra certs from \`${file}\`, load failed: ${(e as Error).message}`);
  }
  return trusted;
}

/**
 * Whether Node's default store is OpenSSL's (a flag, or a distribution's build of Node), not its bundled roots: the
 * rule bin/tsbuild applies before the bundle runs (it cannot import this module).
 */
function systemStore(): boolean {
  const flags = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
  const byBuild = (process.config.variables as { openssl_use_def_ca_store?: unknown }).openssl_use_def_ca_store;
  return (
    /--use-(openssl|system)-ca\b/.test(flags) ||
    ((byBuild === true || byBuild === 'true') && !/--use-bundled-ca\b/.test(flags))
  );
}
