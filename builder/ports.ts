// EXPOSE's port specs, validated as BuildKit does (dockerfile2llb's port specs, after docker's nat package):
// `[[ip:]hostPort:]port[-port][/tcp|udp|sctp]`. The image keeps `port/proto` per port, a range expanded; a host
// part is accepted (BuildKit only lints it) and dropped. Anything else fails the build with BuildKit's message.

const PROTOS = new Set(['tcp', 'udp', 'sctp']);

/** `port/proto` for each port `spec` names; throws an Error with BuildKit's message when it is not a port spec. */
export function parsePortSpec(spec: string): string[] {
  const { ip, hostPort, containerPort: raw } = splitParts(spec);
  const slash = raw.indexOf('/');
  const port = slash < 0 ? raw : raw.slice(0, slash);
  const proto = slash < 0 ? '' : raw.slice(slash + 1);
  if (port === '') throw new Error(`invalid port: "${spec}": no port specified`);
  const protocol = proto === '' ? 'tcp' : proto.toLowerCase();
  if (!PROTOS.has(protocol)) throw new Error(`invalid port: "${spec}": invalid proto: ${proto}`);
  const host = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  if (host !== '' && !isIP(host)) throw new Error(`invalid IP address: ${ip}`);
  const range = portRange(port);
  if (!range) throw new Error(`invalid containerPort: ${port}`);
  if (hostPort !== '') {
    const hostRange = portRange(hostPort);
    if (!hostRange) throw new Error(`invalid hostPort: ${hostPort}`);
    // a host range may differ in size only when the container side is one port (docker's dynamic allocation)
    if (range[1] - range[0] !== hostRange[1] - hostRange[0] && range[1] !== range[0])
      throw new Error(`invalid ranges specified for container and host Ports: ${port} and ${hostPort}`);
  }
  const out: string[] = [];
  for (let p = range[0]; p <= range[1]; p++) out.push(`${p}/${protocol}`);
  return out;
}

/** `ip:host:container` from the right; an IPv6 address keeps its colons. */
function splitParts(spec: string): { ip: string; hostPort: string; containerPort: string } {
  const parts = spec.split(':');
  const n = parts.length;
  if (n === 1) return { ip: '', hostPort: '', containerPort: parts[0]! };
  if (n === 2) return { ip: '', hostPort: parts[0]!, containerPort: parts[1]! };
  return { ip: parts.slice(0, n - 2).join(':'), hostPort: parts[n - 2]!, containerPort: parts[n - 1]! };
}

/** `N` or `N-M` (M ≥ N), each 0…65535 in decimal (a `+` sign allowed, as Go's ParseInt does); undefined otherwise. */
function portRange(text: string): [number, number] | undefined {
  const dash = text.indexOf('-');
  const start = portNumber(dash < 0 ? text : text.slice(0, dash));
  if (start === undefined) return undefined;
  if (dash < 0 || text.slice(0, dash) === text.slice(dash + 1)) return [start, start];
  const end = portNumber(text.slice(dash + 1));
  if (end === undefined || end < start) return undefined;
  return [start, end];
}

function portNumber(text: string): number | undefined {
  if (!/^\+?[0-9]+$/.test(text)) return undefined;
  const n = Number(text);
  return n <= 65535 ? n : undefined;
}

function isIP(s: string): boolean {
  if (/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(s)) return s.split('.').every((o) => Number(o) <= 255);
  return s.includes(':') && /^[0-9a-fA-F:.]+$/.test(s) && (s.match(/::/g) ?? []).length <= 1;
}
