import { describe, expect, test } from 'vitest';
import { AUDIT_ARCH, compileFilter, encodeFilter, HOST_ABIS, RET, SYSCALLS, type Abi, type Insn } from './bpf.js';
import { CLONE_NAMESPACE_FLAGS, DEFAULT_PROFILE, type SeccompArch } from './profile.js';

/** A classic-BPF interpreter for the instructions the compiler emits, over a struct seccomp_data. */
function runFilter(
  prog: Insn[],
  data: { nr: number; arch: number; args?: bigint[] },
  trace?: { steps: number },
): number {
  const word = (off: number): number => {
    if (off === 0) return data.nr >>> 0;
    if (off === 4) return data.arch >>> 0;
    const i = (off - 16) >> 3;
    const v = data.args?.[i] ?? 0n;
    return Number((off - 16) % 8 === 0 ? v & 0xffffffffn : v >> 32n) >>> 0;
  };
  let a = 0;
  for (let pc = 0, steps = 0; pc < prog.length && steps < 10_000; steps++) {
    const p = prog[pc]!;
    if (trace) trace.steps = steps + 1;
    switch (p.code) {
      case 0x20:
        a = word(p.k);
        pc++;
        break;
      case 0x54:
        a = (a & p.k) >>> 0;
        pc++;
        break;
      case 0x15:
        pc += 1 + (a === p.k ? p.jt : p.jf);
        break;
      case 0x35:
        pc += 1 + (a >= p.k ? p.jt : p.jf);
        break;
      case 0x05:
        pc += 1 + p.k;
        break;
      case 0x06:
        return p.k;
      default:
        throw new Error(`unknown opcode ${p.code}`);
    }
  }
  throw new Error('filter did not return');
}

const DOCKER_CAPS = [
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'SETGID',
  'SETUID',
  'SETPCAP',
  'NET_BIND_SERVICE',
  'NET_RAW',
  'SYS_CHROOT',
  'MKNOD',
  'AUDIT_WRITE',
  'SETFCAP',
];
const EPERM = RET.ERRNO | 1;
const ENOSYS = RET.ERRNO | 38;

const AUDIT_ARCH_ARM = 0x40000028;

// Each ABI a host runs, checked with that ABI's own numbers: the profile is the same by name on all of them.
const HOST_AND_ABI: [SeccompArch, Abi][] = [
  ['x86_64', 'x86_64'],
  ['x86_64', 'i386'],
  ['aarch64', 'aarch64'],
];

describe.each(HOST_AND_ABI)('seccomp filter for %s, %s ABI', (arch, abi) => {
  const prog = compileFilter(arch, DOCKER_CAPS);
  const nr = (name: string): number => {
    const n = SYSCALLS[abi][name];
    if (n === undefined) throw new Error(`no ${name} on ${abi}`);
    return n;
  };
  const verdict = (name: string, args: bigint[] = []): number =>
    runFilter(prog, { nr: nr(name), arch: AUDIT_ARCH[abi], args });

  test('allows every unconditional name of the profile that the ABI has', () => {
    const table = SYSCALLS[abi];
    const names = DEFAULT_PROFILE[0]!.names.filter((n) => table[n] !== undefined);
    expect(names.length).toBeGreaterThan(200);
    for (const n of names) expect([n, verdict(n)]).toEqual([n, RET.ALLOW]);
  });

  test.each([
    'unshare',
    'setns',
    'mount',
    'umount2',
    'keyctl',
    'add_key',
    'request_key',
    'bpf',
    'kexec_load',
    'reboot',
    'init_module',
    'pivot_root',
    'kcmp',
    'pidfd_getfd',
    'swapon',
    'open_by_handle_at',
    'fsopen',
    'move_mount',
    'perf_event_open',
    'userfaultfd',
  ])('denies %s with EPERM', (name) => {
    expect(verdict(name)).toBe(EPERM);
  });

  test('clone is allowed without namespace flags, denied with any of them; clone3 gets ENOSYS', () => {
    expect(verdict('clone', [0x01200011n])).toBe(RET.ALLOW); // fork's flags (CLONE_CHILD_SETTID|CLEARTID|SIGCHLD)
    for (let bit = 0; bit < 32; bit++) {
      const flag = 1 << bit;
      if (!(CLONE_NAMESPACE_FLAGS & flag)) continue;
      expect(verdict('clone', [BigInt(flag >>> 0) | 0x11n])).toBe(EPERM);
    }
    expect(verdict('clone3')).toBe(ENOSYS);
  });

  test('personality only with the values Docker allows', () => {
    for (const v of [0n, 8n, 0x20000n, 0x20008n, 0xffffffffn]) expect(verdict('personality', [v])).toBe(RET.ALLOW);
    for (const v of [0x0040000n /* ADDR_NO_RANDOMIZE */, 0x1n, 0x8000000n])
      expect(verdict('personality', [v])).toBe(EPERM);
  });

  test('socket is allowed except AF_VSOCK, whatever the upper half of the argument says', () => {
    expect(verdict('socket', [2n])).toBe(RET.ALLOW);
    expect(verdict('socket', [40n])).toBe(EPERM);
    expect(verdict('socket', [(1n << 32n) | 40n])).toBe(EPERM);
  });

  test('chroot follows CAP_SYS_CHROOT', () => {
    expect(verdict('chroot')).toBe(RET.ALLOW);
    const without = compileFilter(
      arch,
      DOCKER_CAPS.filter((c) => c !== 'SYS_CHROOT'),
    );
    expect(runFilter(without, { nr: nr('chroot'), arch: AUDIT_ARCH[abi] })).toBe(EPERM);
  });

  test('numbers past the table get ENOSYS', () => {
    const max = Math.max(...Object.values(SYSCALLS[abi]));
    expect(runFilter(prog, { nr: max + 1, arch: AUDIT_ARCH[abi] })).toBe(ENOSYS);
    expect(runFilter(prog, { nr: 0x3fff0000, arch: AUDIT_ARCH[abi] })).toBe(ENOSYS);
  });
});

describe.each(['x86_64', 'aarch64'] as SeccompArch[])('seccomp filter for a %s host', (arch) => {
  const prog = compileFilter(arch, DOCKER_CAPS);

  test('an ABI the host does not allow is refused', () => {
    const foreign = [AUDIT_ARCH.x86_64, AUDIT_ARCH.i386, AUDIT_ARCH.aarch64, AUDIT_ARCH_ARM].filter(
      (a) => !HOST_ABIS[arch].some((h) => AUDIT_ARCH[h] === a),
    );
    expect(foreign.length).toBeGreaterThanOrEqual(2);
    for (const a of foreign)
      for (const n of [0, 1, 3, 4, 60, 93]) expect(runFilter(prog, { nr: n, arch: a })).toBe(EPERM);
  });

  test('a binary search per ABI: a few compares per call rather than one per name, jumps in range', () => {
    expect(prog.length).toBeLessThan(256 * HOST_ABIS[arch].length);
    for (const abi of HOST_ABIS[arch]) {
      let longest = 0;
      for (const n of Object.values(SYSCALLS[abi])) {
        const trace = { steps: 0 };
        runFilter(prog, { nr: n, arch: AUDIT_ARCH[abi], args: [0n] }, trace);
        longest = Math.max(longest, trace.steps);
      }
      expect([abi, longest < 20]).toEqual([abi, true]);
    }
    for (const p of prog) expect(p.jt <= 255 && p.jf <= 255).toBe(true);
    expect(encodeFilter(prog).length).toBe(prog.length * 8);
  });
});

describe('i386 programs on x86_64 (int 0x80), as Docker allows them', () => {
  const prog = compileFilter('x86_64', DOCKER_CAPS);
  const i386 = (nr: number, args: bigint[] = []): number => runFilter(prog, { nr, arch: AUDIT_ARCH.i386, args });

  test('numbers are i386 ones: write 4, exit 1 allowed; unshare 310, mount 21, keyctl 288 denied', () => {
    expect([i386(4), i386(1), i386(252 /* exit_group */)]).toEqual([RET.ALLOW, RET.ALLOW, RET.ALLOW]);
    expect([i386(310), i386(21), i386(288)]).toEqual([EPERM, EPERM, EPERM]);
    // 310 is process_vm_readv and 21 access on x86_64: the same number has another verdict in the other ABI.
    expect(runFilter(prog, { nr: 21, arch: AUDIT_ARCH.x86_64 })).toBe(RET.ALLOW);
  });

  test('clone 120 with CLONE_NEWUSER is denied, without namespace flags allowed; personality 136 checked', () => {
    expect(i386(120, [0x10000000n | 0x11n])).toBe(EPERM);
    expect(i386(120, [0x01200011n])).toBe(RET.ALLOW);
    expect(i386(136, [0x0040000n])).toBe(EPERM);
    expect(i386(136, [0xffffffffn])).toBe(RET.ALLOW);
  });

  test('socket 359 refuses AF_VSOCK; socketcall 102 is allowed whole, as in Docker (its arguments are behind a pointer)', () => {
    expect(i386(359, [40n])).toBe(EPERM);
    expect(i386(359, [2n])).toBe(RET.ALLOW);
    expect(i386(102, [1n /* SYS_SOCKET */])).toBe(RET.ALLOW);
  });

  test('i386-only names of the profile are allowed, i386-only names outside it are not', () => {
    for (const n of ['socketcall', 'chown32', 'mmap2', '_llseek', 'waitpid', 'ipc', 'modify_ldt', 'arch_prctl'])
      expect([n, i386(SYSCALLS.i386[n]!)]).toEqual([n, RET.ALLOW]);
    for (const n of ['vm86', 'vm86old', 'olduname']) expect([n, i386(SYSCALLS.i386[n]!)]).toEqual([n, EPERM]);
  });
});

test('x32 syscalls are refused on x86_64', () => {
  const prog = compileFilter('x86_64', DOCKER_CAPS);
  expect(runFilter(prog, { nr: 0x40000000 | SYSCALLS.x86_64.read!, arch: AUDIT_ARCH.x86_64 })).toBe(EPERM);
});

test('long subtrees are reached through ja', () => {
  // One argument-checked syscall per number makes ranges large enough that the first left subtree exceeds 255.
  const profile = Object.keys(SYSCALLS.x86_64)
    .slice(0, 200)
    .map((name) => ({ names: [name], action: 'allow' as const, arg: { index: 1, op: 'eq' as const, value: 7 } }));
  const prog = compileFilter('x86_64', [], profile);
  expect(prog.some((p) => p.code === 0x05)).toBe(true);
  for (const name of Object.keys(SYSCALLS.x86_64).slice(0, 200)) {
    const n = SYSCALLS.x86_64[name]!;
    expect(runFilter(prog, { nr: n, arch: AUDIT_ARCH.x86_64, args: [0n, 7n] })).toBe(RET.ALLOW);
    expect(runFilter(prog, { nr: n, arch: AUDIT_ARCH.x86_64, args: [0n, 8n] })).toBe(EPERM);
  }
});
