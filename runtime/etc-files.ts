// The generated /etc/hosts, /etc/hostname and /etc/resolv.conf a container sees (bound read-only, never in a layer).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NetworkMode } from './spec.js';

export interface EtcFiles { hosts: string; hostname: string; resolvConf: string }

export async function writeEtcFiles(dir: string, o: { hostname: string; network: NetworkMode; extraHosts: string[] }): Promise<EtcFiles> {
  const hosts = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    `127.0.1.1\t${o.hostname}`,
    ...o.extraHosts.map((h) => h.trim().split(/\s+/).join('\t')),
    '',
  ].join('\n');
  let resolv = '';
  if (o.network === 'host') {
    try {
      resolv = readFileSync('/etc/resolv.conf', 'utf8');
    } catch {
      // no resolver configured on the host
    }
  }
  const files: EtcFiles = { hosts: join(dir, 'hosts'), hostname: join(dir, 'hostname'), resolvConf: join(dir, 'resolv.conf') };
  writeFileSync(files.hosts, hosts, { mode: 0o644 });
  writeFileSync(files.hostname, `${o.hostname}\n`, { mode: 0o644 });
  writeFileSync(files.resolvConf, resolv, { mode: 0o644 });
  return files;
}
