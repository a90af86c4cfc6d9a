import { describe, expect, it } from 'vitest';
import { handlerArchitecture, nativeArchitectures, parseHandler, runnerFor, type BinfmtState } from './binfmt.js';

// Registrations as qemu-user-static 7.2 (Debian 12) writes them, read from /proc/sys/fs/binfmt_misc.
const QEMU: Record<string, [string, string]> = {
  'qemu-aarch64': ['7f454c460201010000000000000000000200b700', 'ffffffffffffff00fffffffffffffffffeffffff'],
  'qemu-arm': ['7f454c4601010100000000000000000002002800', 'ffffffffffffff00fffffffffffffffffeffffff'],
  'qemu-armeb': ['7f454c4601020100000000000000000000020028', 'ffffffffffffff00fffffffffffffffffffeffff'],
  'qemu-ppc64le': ['7f454c4602010100000000000000000002001500', 'fffffffffffffffcfffffffffffffffffeffff00'],
  'qemu-s390x': ['7f454c4602020100000000000000000000020016', 'fffffffffffffffcfffffffffffffffffffeffff'],
  'qemu-riscv64': ['7f454c460201010000000000000000000200f300', 'ffffffffffffff00fffffffffffffffffeffffff'],
  'qemu-loongarch64': ['7f454c4602010100000000000000000002000201', 'fffffffffffffffc00fffffffffffffffeffffff'],
};

const file = (name: string, flags = 'PF', enabled = true): string =>
  `${enabled ? 'enabled' : 'disabled'}\ninterpreter /usr/libexec/qemu-binfmt/${name}-binfmt-P\nflags: ${flags}\n` +
  `offset 0\nmagic ${QEMU[name]![0]}\nmask ${QEMU[name]![1]}\n`;

describe('binfmt_misc registrations', () => {
  it.each([
    ['qemu-aarch64', 'arm64'],
    ['qemu-arm', 'arm'],
    ['qemu-armeb', undefined],
    ['qemu-ppc64le', 'ppc64le'],
    ['qemu-s390x', 's390x'],
    ['qemu-riscv64', 'riscv64'],
    ['qemu-loongarch64', 'loong64'],
  ])('%s emulates %s', (name, arch) => {
    const h = parseHandler(name, file(name));
    expect(h).toMatchObject({
      name,
      enabled: true,
      flags: 'PF',
      interpreter: `/usr/libexec/qemu-binfmt/${name}-binfmt-P`,
    });
    expect(h.architecture).toBe(arch);
  });

  it('a handler for something other than an ELF header at offset 0 emulates no platform', () => {
    expect(
      parseHandler('python3.11', 'enabled\ninterpreter /usr/bin/python3.11\nflags: \noffset 0\nmagic a70d0d0a\n'),
    ).toEqual({ name: 'python3.11', enabled: true, interpreter: '/usr/bin/python3.11', flags: '' });
    expect(handlerArchitecture(2, QEMU['qemu-arm']![0])).toBeUndefined();
  });
});

describe('runnerFor', () => {
  const amd64 = { os: 'linux', architecture: 'amd64' };
  const state = (...handlers: string[]): BinfmtState => ({
    dir: '/x',
    mounted: true,
    enabled: true,
    handlers: handlers.map((h) => {
      const [name, flags, off] = h.split(':') as [string, string?, string?];
      return parseHandler(name, file(name, flags ?? 'PF', off !== 'off'));
    }),
  });

  it('runs the host architecture and its 32-bit compat mode natively, reading no handlers', () => {
    expect(nativeArchitectures(amd64)).toEqual(['amd64', '386']);
    const none: BinfmtState = { dir: '/x', mounted: false, enabled: false, handlers: [] };
    for (const a of ['amd64', '386'])
      expect(runnerFor({ os: 'linux', architecture: a }, none, amd64).kind).toBe('native');
  });

  it('an arm64 host runs 32-bit arm only through a handler (its seccomp filter refuses arm32 calls)', () => {
    const arm64 = { os: 'linux', architecture: 'arm64', variant: 'v8' };
    expect(nativeArchitectures(arm64)).toEqual(['arm64']);
    const v7 = { os: 'linux', architecture: 'arm', variant: 'v7' };
    expect(runnerFor(v7, state(), arm64)).toEqual({ kind: 'missing' });
    expect(runnerFor(v7, state('qemu-arm'), arm64).kind).toBe('emulated');
  });

  it('emulates arm64 and every arm variant through an enabled F handler', () => {
    const s = state('qemu-aarch64', 'qemu-arm');
    expect(runnerFor({ os: 'linux', architecture: 'arm64', variant: 'v8' }, s, amd64)).toMatchObject({
      kind: 'emulated',
      handler: { name: 'qemu-aarch64' },
    });
    for (const v of ['v5', 'v6', 'v7'])
      expect(runnerFor({ os: 'linux', architecture: 'arm', variant: v }, s, amd64)).toMatchObject({
        kind: 'emulated',
        handler: { name: 'qemu-arm' },
      });
  });

  it('a handler without F, a disabled one, or none at all is missing (naming the unusable one)', () => {
    const arm64 = { os: 'linux', architecture: 'arm64' };
    expect(runnerFor(arm64, state('qemu-aarch64:P'), amd64)).toMatchObject({
      kind: 'missing',
      unusable: { name: 'qemu-aarch64', flags: 'P' },
    });
    expect(runnerFor(arm64, state('qemu-aarch64:PF:off'), amd64)).toMatchObject({
      kind: 'missing',
      unusable: { enabled: false },
    });
    expect(runnerFor(arm64, state('qemu-arm'), amd64)).toEqual({ kind: 'missing' });
    expect(runnerFor(arm64, { ...state('qemu-aarch64'), enabled: false }, amd64).kind).toBe('missing');
    expect(runnerFor({ os: 'windows', architecture: 'amd64' }, state(), amd64).kind).toBe('missing');
  });
});
