// EXPOSE port specs against BuildKit's rules (dockerfile2llb port specs): what an image records, what fails.
import { describe, expect, it } from 'vitest';
import { parsePortSpec } from './ports.js';

describe('EXPOSE port specs', () => {
  it('records port/proto, tcp by default, the protocol lower-cased, a range one entry per port', () => {
    expect(parsePortSpec('80')).toEqual(['80/tcp']);
    expect(parsePortSpec('53/UDP')).toEqual(['53/udp']);
    expect(parsePortSpec('9/sctp')).toEqual(['9/sctp']);
    expect(parsePortSpec('8000-8002/tcp')).toEqual(['8000/tcp', '8001/tcp', '8002/tcp']);
    expect(parsePortSpec('080')).toEqual(['80/tcp']);
    expect(parsePortSpec('0')).toEqual(['0/tcp']);
    expect(parsePortSpec('65535')).toEqual(['65535/tcp']);
    // a host part parses (BuildKit lints it) and only the container port is kept
    expect(parsePortSpec('8080:80')).toEqual(['80/tcp']);
    expect(parsePortSpec('127.0.0.1:8080:80/udp')).toEqual(['80/udp']);
    expect(parsePortSpec('[::1]:8080:80')).toEqual(['80/tcp']);
  });

  it('rejects what docker rejects, with its message', () => {
    expect(() => parsePortSpec('abc')).toThrow('invalid containerPort: abc');
    expect(() => parsePortSpec('80/xtp')).toThrow('invalid port: "80/xtp": invalid proto: xtp');
    expect(() => parsePortSpec('/tcp')).toThrow('no port specified');
    expect(() => parsePortSpec('65536')).toThrow('invalid containerPort: 65536');
    expect(() => parsePortSpec('90-80')).toThrow('invalid containerPort: 90-80');
    expect(() => parsePortSpec('-1')).toThrow('invalid containerPort: -1');
    expect(() => parsePortSpec('x:80')).toThrow('invalid hostPort: x');
    expect(() => parsePortSpec('300.1.1.1:80:80')).toThrow('invalid IP address: 300.1.1.1');
    expect(() => parsePortSpec('8000-8001:80-82')).toThrow(
      'invalid ranges specified for container and host Ports: 80-82 and 8000-8001',
    );
  });
});
