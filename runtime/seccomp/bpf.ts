// Compiles a seccomp profile (profile.ts) into a classic BPF program (struct sock_filter[]) for one host architecture.
// Shape: branch on the audit arch to one subprogram per ABI the host runs (x86_64 also runs i386 binaries through
// int 0x80), each a binary search over ranges of that ABI's syscall numbers with the same verdict, so a syscall costs
// about log2(ranges) compares rather than one per name. As in Docker, the profile's names are resolved in each ABI's
// own table. Numbers above the highest one in a table get ENOSYS, as runc does, so that libc falls back from syscalls
// newer than the table instead of failing with EPERM.
import { DEFAULT_PROFILE, ENOSYS, EPERM, type ArgCondition, type SeccompArch, type SyscallRule } from './profile.js';
import { AARCH64, I386, X86_64 } from './syscall-table.js';
import { REPORT_HINT, RuntimeError } from '../errors.js';

/** A system call ABI: the host's own, or a 32-bit one the host kernel also runs. */
export type Abi = SeccompArch | 'i386';

export const AUDIT_ARCH: Record<Abi, number> = { x86_64: 0xc000003e, i386: 0x40000003, aarch64: 0xc00000b7 };
export const SYSCALLS: Record<Abi, Readonly<Record<string, number>>> = { x86_64: X86_64, i386: I386, aarch64: AARCH64 };
/**
 * The ABIs a container may use, native first (the branch taken with the fewest jumps). Docker also allows x32 on
 * x86_64 and arm32 on aarch64. x32 is refused: few kernels run it (Debian's needs syscall.x32=y at boot; this one is
 * built without it), no image targets it, so allowing it would add untested attack surface only. arm32 is refused
 * because its numbers are not among this machine's headers (see generate-table.mjs).
 */
export const HOST_ABIS: Record<SeccompArch, readonly Abi[]> = { x86_64: ['x86_64', 'i386'], aarch64: ['aarch64'] };
const X32_SYSCALL_BIT = 0x40000000;

export const RET = { ALLOW: 0x7fff0000, ERRNO: 0x00050000, KILL_PROCESS: 0x80000000 } as const;
const OP = { LD_W_ABS: 0x20, JEQ_K: 0x15, JGE_K: 0x35, JA: 0x05, RET_K: 0x06, AND_K: 0x54 } as const;
/** Offsets in struct seccomp_data. Arguments are little-endian u64 on both architectures: the low word comes first. */
const DATA = { nr: 0, arch: 4, arg: (i: number) => 16 + 8 * i } as const;

export interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

type Verdict = { ret: number } | { conds: ArgCondition[] };

const errno = (e: number): number => RET.ERRNO | e;
const insn = (code: number, k: number, jt = 0, jf = 0): Insn => ({ code, jt, jf, k: k >>> 0 });

function applies(rule: SyscallRule, arch: SeccompArch, caps: ReadonlySet<string>): boolean {
  if (rule.arches && !rule.arches.includes(arch)) return false;
  if (rule.caps && !rule.caps.some((c) => caps.has(c))) return false;
  if (rule.unlessCaps && rule.unlessCaps.some((c) => caps.has(c))) return false;
  return true;
}

/**
 * The verdict for each syscall number of `abi` the profile names: unconditional allow wins, then argument checks, then
 * errno. A rule's `arches` name the host architecture (Docker's `includes.arches` match the engine's), so on x86_64
 * modify_ldt and arch_prctl are allowed to i386 programs too, as in Docker.
 */
export function resolveVerdicts(
  profile: readonly SyscallRule[],
  arch: SeccompArch,
  caps: Iterable<string>,
  abi: Abi = arch,
): Map<number, Verdict> {
  const table = SYSCALLS[abi];
  const held = new Set(caps);
  const byNr = new Map<number, { allow: boolean; conds: ArgCondition[]; errno?: number }>();
  for (const rule of profile) {
    if (!applies(rule, arch, held)) continue;
    for (const name of rule.names) {
      const nr = table[name];
      if (nr === undefined) continue; // not a syscall of this ABI (chown32 and socketcall on x86_64, …)
      const v = byNr.get(nr) ?? { allow: false, conds: [] };
      if (rule.action !== 'allow') v.errno = rule.action.errno;
      else if (rule.arg) v.conds.push(rule.arg);
      else v.allow = true;
      byNr.set(nr, v);
    }
  }
  const out = new Map<number, Verdict>();
  for (const [nr, v] of byNr) {
    if (v.allow) out.set(nr, { ret: RET.ALLOW });
    else if (v.conds.length > 0) out.set(nr, { conds: v.conds });
    else if (v.errno !== undefined) out.set(nr, { ret: errno(v.errno) });
  }
  return out;
}

interface Range {
  start: number;
  verdict: Verdict;
}

/** Consecutive numbers with the same plain verdict merged; an argument-checked syscall is a range of its own. */
function ranges(verdicts: Map<number, Verdict>, maxNr: number): Range[] {
  const deny: Verdict = { ret: errno(EPERM) };
  const out: Range[] = [];
  for (let nr = 0; nr <= maxNr; nr++) {
    const v = verdicts.get(nr) ?? deny;
    const last = out[out.length - 1];
    if (last && 'ret' in last.verdict && 'ret' in v && last.verdict.ret === v.ret) continue;
    out.push({ start: nr, verdict: v });
  }
  out.push({ start: maxNr + 1, verdict: { ret: errno(ENOSYS) } });
  return out;
}

/** Allow when any condition holds, else EPERM. The syscall number is no longer needed, so A is reused. */
function emitConditions(conds: ArgCondition[]): Insn[] {
  const code: Insn[] = [];
  const jumps: { at: number; toAllowOnMatch: boolean }[] = [];
  for (const c of conds) {
    code.push(insn(OP.LD_W_ABS, DATA.arg(c.index)));
    if (c.op === 'masked-eq') code.push(insn(OP.AND_K, c.mask));
    jumps.push({ at: code.length, toAllowOnMatch: c.op !== 'ne' });
    code.push(insn(OP.JEQ_K, c.value));
  }
  code.push(insn(OP.RET_K, errno(EPERM)));
  const allow = code.length;
  code.push(insn(OP.RET_K, RET.ALLOW));
  for (const j of jumps) {
    const off = allow - j.at - 1;
    if (j.toAllowOnMatch) code[j.at]!.jt = off;
    else code[j.at]!.jf = off;
  }
  return code;
}

function emitTree(rs: Range[], lo: number, hi: number): Insn[] {
  if (lo === hi) {
    const v = rs[lo]!.verdict;
    return 'ret' in v ? [insn(OP.RET_K, v.ret)] : emitConditions(v.conds);
  }
  const mid = (lo + hi + 1) >> 1;
  const left = emitTree(rs, lo, mid - 1);
  const right = emitTree(rs, mid, hi);
  // Every subtree ends in a return, so the left one never falls through into the right one.
  if (left.length <= 255) return [insn(OP.JGE_K, rs[mid]!.start, left.length, 0), ...left, ...right];
  return [insn(OP.JGE_K, rs[mid]!.start, 0, 1), insn(OP.JA, left.length), ...left, ...right];
}

/** One ABI's subprogram: load the syscall number, then the search over it. */
function abiProgram(arch: SeccompArch, abi: Abi, caps: Iterable<string>, profile: readonly SyscallRule[]): Insn[] {
  const maxNr = Math.max(...Object.values(SYSCALLS[abi]));
  const rs = ranges(resolveVerdicts(profile, arch, caps, abi), maxNr);
  const prog = [insn(OP.LD_W_ABS, DATA.nr)];
  // x32 shares x86_64's audit arch and marks its numbers with this bit: refused (see HOST_ABIS).
  if (abi === 'x86_64') prog.push(insn(OP.JGE_K, X32_SYSCALL_BIT, 0, 1), insn(OP.RET_K, errno(EPERM)));
  return [...prog, ...emitTree(rs, 0, rs.length - 1)];
}

/**
 * The filter as instructions. The native ABI's subprogram follows the arch check directly; each other ABI is
 * reached through a ja (its offset is 32 bits, where a conditional jump reaches 255), and an ABI the host does not
 * allow (arm32, or a foreign one) gets EPERM: its numbers mean other syscalls.
 */
export function compileFilter(
  arch: SeccompArch,
  caps: Iterable<string>,
  profile: readonly SyscallRule[] = DEFAULT_PROFILE,
): Insn[] {
  const [native, ...others] = HOST_ABIS[arch];
  const bodies = others.map((abi) => abiProgram(arch, abi, caps, profile));
  const nativeBody = abiProgram(arch, native!, caps, profile);
  const head = 2 + 2 * others.length + 1; // ld arch, jeq native; per other ABI jeq + ja; the refusal
  const prog: Insn[] = [insn(OP.LD_W_ABS, DATA.arch), insn(OP.JEQ_K, AUDIT_ARCH[native!], head - 2, 0)];
  let start = head + nativeBody.length; // where the next other ABI's body begins
  others.forEach((abi, i) => {
    const ja = 3 + 2 * i;
    prog.push(insn(OP.JEQ_K, AUDIT_ARCH[abi], 0, 1), insn(OP.JA, start - ja - 1));
    start += bodies[i]!.length;
  });
  prog.push(insn(OP.RET_K, errno(EPERM)), ...nativeBody, ...bodies.flat());
  if (prog.length > 4096)
    throw new RuntimeError(
      'SECCOMP_TOO_LONG',
      `seccomp filter too long: ${prog.length} instructions (BPF_MAXINSNS 4096)`,
      {
        hint: REPORT_HINT,
      },
    );
  return prog;
}

/** struct sock_filter[] as the kernel reads it (u16 code, u8 jt, u8 jf, u32 k; host byte order, little-endian). */
export function encodeFilter(prog: Insn[]): Buffer {
  const buf = Buffer.alloc(prog.length * 8);
  prog.forEach((p, i) => {
    buf.writeUInt16LE(p.code, i * 8);
    buf.writeUInt8(p.jt, i * 8 + 2);
    buf.writeUInt8(p.jf, i * 8 + 3);
    buf.writeUInt32LE(p.k, i * 8 + 4);
  });
  return buf;
}
