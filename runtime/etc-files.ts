// The generated /etc/hosts, /etc/hostname and /etc/resolv.conf a container sees (bound read-only, never in a layer).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SLIRP_DNS } from './network.js';
import type { NetworkMode } from './spec.js';

export interface EtcFiles {
  hosts: string;
  /** None for a build step: BuildKit binds no /etc/hostname (the image's own, if any, stays). */
  hostname?: string;
  resolvConf: string;
}

/** The host name of every RUN container, as BuildKit's (executor/oci/hosts.go). */
export const BUILD_HOSTNAME = 'buildkitsandbox';

export async function writeEtcFiles(
  dir: string,
  o: { hostname: string; network: NetworkMode; extraHosts: string[]; purpose: 'run' | 'build' },
): Promise<EtcFiles> {
  const extra = o.extraHosts.map((h) => h.trim().split(/\s+/).join('\t'));
  // BuildKit names the host on the loopback line and adds --add-host entries after the ::1 line
  const hosts = (
    o.purpose === 'build'
      ? [`127.0.0.1\tlocalhost ${o.hostname}`, '::1\tlocalhost ip6-localhost ip6-loopback', ...extra, '']
      : ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', `127.0.1.1\t${o.hostname}`, ...extra, '']
  ).join('\n');
  let resolv = '';
  if (o.network !== 'none') {
    try {
      resolv = readFileSync('/etc/resolv.conf', 'utf8');
    } catch {
      // no resolver configured on the host
    }
  }
  // The default network reaches DNS only through slirp's forwarder (the host's nameservers may be on its loopback);
  // the host's search domains and options still apply.
  if (o.network === 'default') {
    resolv = [
      `nameserver ${SLIRP_DNS}`,
      ...resolv.split('\n').filter((l) => /^\s*(search|domain|options)\s/.test(l)),
      '',
    ].join('\n');
  }
  const files: EtcFiles = {
    hosts: join(dir, 'hosts'),
    ...(o.purpose === 'run' ? { hostname: join(dir, 'hostname') } : {}),
    resolvConf: join(dir, 'resolv.conf'),
  };
  writeFileSync(files.hosts, hosts, { mode: 0o644 });
  if (files.hostname) writeFileSync(files.hostname, `${o.hostname}\n`, { mode: 0o644 });
  writeFileSync(files.resolvConf, resolv, { mode: 0o644 });
  return files;
}
