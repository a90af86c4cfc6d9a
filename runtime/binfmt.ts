// Which platforms this host can run: its own (and what its CPU runs natively, 386 on amd64), plus those a
// binfmt_misc handler emulates (qemu-user-static). A RUN of a foreign platform is an ordinary exec of a foreign ELF
// binary: the kernel hands it to the handler's interpreter. Only a handler with flag F works inside a container
// root, because the interpreter was opened when it was registered; without F the kernel looks the interpreter up
// in the container's own root, where it is not.
//
// Reading the registrations is a few small procfs reads (no test binary is run, unlike BuildKit's probe); the answer
// is kept per process, keyed by the directory's state (each entry's inode and mtime: a registration gets a new
// inode, enabling or disabling one touches its mtime), and only a foreign platform ever asks.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { formatPlatform, hostPlatform, TsbuildError, type Platform } from '../oci/index.js';

/**
 * The binfmt_misc directory. TSBUILD_BINFMT_DIR overrides it — a test hook (an empty directory stands for a host
 * without emulators, since unregistering the real handlers would break everything else on the machine).
 */
export function binfmtDir(): string {
  return process.env.TSBUILD_BINFMT_DIR || '/proc/sys/fs/binfmt_misc';
}

export interface BinfmtHandler {
  name: string;
  enabled: boolean;
  interpreter: string;
  flags: string;
  /** The Linux architecture it runs (OCI names: arm64, arm, ppc64le…), from the ELF header it matches. */
  architecture?: string;
}

export interface BinfmtState {
  dir: string;
  /** binfmt_misc is mounted (its `status` file exists). */
  mounted: boolean;
  /** The global switch (`status`: enabled). */
  enabled: boolean;
  handlers: BinfmtHandler[];
}

// ELF e_machine → OCI architecture, by class (1: 32-bit, 2: 64-bit) and byte order (1: little, 2: big endian).
function elfArch(machine: number, cls: number, data: number): string | undefined {
  const le = data === 1;
  const b64 = cls === 2;
  switch (machine) {
    case 0x03:
      return '386';
    case 0x3e:
      return 'amd64';
    case 0xb7:
      return le ? 'arm64' : undefined;
    case 0x28:
      return le && !b64 ? 'arm' : undefined;
    case 0x15:
      return b64 ? (le ? 'ppc64le' : 'ppc64') : undefined;
    case 0x16:
      return b64 ? 's390x' : undefined;
    case 0xf3:
      return b64 ? 'riscv64' : undefined;
    case 0x08:
      return b64 ? (le ? 'mips64le' : 'mips64') : le ? 'mipsle' : 'mips';
    case 0x102:
      return b64 ? 'loong64' : undefined;
    default:
      return undefined;
  }
}

/** The architecture an ELF magic (with its mask) matches, when it is a whole ELF header prefix at offset 0. */
export function handlerArchitecture(offset: number, magicHex: string, maskHex?: string): string | undefined {
  if (offset !== 0 || !/^(?:[0-9a-f]{2})+$/.test(magicHex)) return undefined;
  const magic = Buffer.from(magicHex, 'hex');
  const mask = maskHex && /^(?:[0-9a-f]{2})+$/.test(maskHex) ? Buffer.from(maskHex, 'hex') : undefined;
  if (magic.length < 20 || magic.subarray(0, 4).toString('latin1') !== '\x7fELF') return undefined;
  const at = (i: number): number => magic[i]! & (mask ? (mask[i] ?? 0xff) : 0xff);
  const cls = at(4);
  const data = at(5);
  const machine = data === 2 ? (at(18) << 8) | at(19) : at(18) | (at(19) << 8);
  return elfArch(machine, cls, data);
}

/** Parses one registration file (`enabled`, `interpreter …`, `flags: …`, `offset …`, `magic …`, `mask …`). */
export function parseHandler(name: string, text: string): BinfmtHandler {
  const lines = text.split('\n');
  const field = (key: string): string | undefined => {
    const l = lines.find((x) => x.startsWith(`${key} `) || x.startsWith(`${key}:`));
    return l?.slice(key.length).replace(/^:?\s*/, '');
  };
  const architecture = handlerArchitecture(Number(field('offset') ?? '0'), field('magic') ?? '', field('mask'));
  return {
    name,
    enabled: lines[0] === 'enabled',
    interpreter: field('interpreter') ?? '',
    flags: field('flags') ?? '',
    ...(architecture ? { architecture } : {}),
  };
}

function stateKey(dir: string): string | undefined {
  try {
    const names = readdirSync(dir).sort();
    return names
      .map((n) => {
        const st = statSync(join(dir, n), { bigint: true });
        return `${n}:${st.ino}:${st.mtimeNs}`;
      })
      .join('/');
  } catch {
    return undefined;
  }
}

let memo: { dir: string; key: string | undefined; state: BinfmtState } | undefined;

/** The handlers registered in binfmt_misc, read again only when the directory's state changed. */
export function readBinfmt(dir: string = binfmtDir()): BinfmtState {
  const key = stateKey(dir);
  if (memo && memo.dir === dir && memo.key === key) return memo.state;
  let status: string | undefined;
  try {
    status = readFileSync(join(dir, 'status'), 'utf8').trim();
  } catch {
    status = undefined;
  }
  const handlers: BinfmtHandler[] = [];
  if (status !== undefined) {
    for (const n of readdirSync(dir)) {
      if (n === 'status' || n === 'register') continue;
      try {
        handlers.push(parseHandler(n, readFileSync(join(dir, n), 'utf8')));
      } catch {
        // unregistered while we read: not there
      }
    }
  }
  const state = { dir, mounted: status !== undefined, enabled: status === 'enabled', handlers };
  memo = { dir, key, state };
  return state;
}

/**
 * Architectures a RUN executes here without emulation: the host's, and 386 on amd64 (the seccomp filter admits i386
 * calls there). 32-bit arm on arm64 is not among them although containerd's platforms.Only counts it: many arm64
 * CPUs lack AArch32, and the seccomp filter refuses arm32 calls, so it needs an emulator like any other.
 */
export function nativeArchitectures(host: Platform = hostPlatform()): string[] {
  if (host.architecture === 'amd64') return ['amd64', '386'];
  return [host.architecture];
}

export type Runner = { kind: 'native' } | { kind: 'emulated'; handler: BinfmtHandler };

/** How `p` runs here, or why not (the usable handler, a handler that is there but unusable, or nothing). */
export function runnerFor(
  p: Platform,
  state?: BinfmtState,
  host: Platform = hostPlatform(),
): Runner | { kind: 'missing'; unusable?: BinfmtHandler } {
  if (p.os !== host.os) return { kind: 'missing' };
  if (nativeArchitectures(host).includes(p.architecture)) return { kind: 'native' };
  const s = state ?? readBinfmt();
  const candidates = s.handlers.filter((h) => h.architecture === p.architecture);
  const usable = candidates.find((h) => s.enabled && h.enabled && h.flags.includes('F'));
  if (usable) return { kind: 'emulated', handler: usable };
  return candidates[0] ? { kind: 'missing', unusable: candidates[0] } : { kind: 'missing' };
}

/** A platform whose programs this host can neither run nor emulate, found before anything ran. */
export class EmulatorMissingError extends TsbuildError {
  override name = 'EmulatorMissingError';
  constructor(
    readonly platform: string,
    message: string,
    hint: string,
  ) {
    super('EMULATOR_MISSING', message, { hint });
  }
}

const INSTALL =
  'apt-get install qemu-user-static binfmt-support, then mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc ' +
  '(if it is not mounted) and update-binfmts --enable';

/**
 * Throws EmulatorMissingError for the first of `platforms` this host cannot run: `what` says who needs it (`RUN in
 * stage build`). Nothing is installed or registered here: that is the host owner's call.
 */
export function checkRunnable(platforms: readonly { platform: Platform; what: string }[]): void {
  const host = hostPlatform();
  for (const { platform, what } of platforms) {
    const r = runnerFor(platform, undefined, host);
    if (r.kind !== 'missing') continue;
    const name = formatPlatform(platform);
    if (platform.os !== host.os)
      throw new EmulatorMissingError(
        name,
        `${what} needs platform ${name}, and this ${host.os} host cannot run ${platform.os} programs`,
        `build for ${host.os}/… or on a ${platform.os} host`,
      );
    const s = readBinfmt();
    const why = !s.mounted
      ? `binfmt_misc is not mounted at ${s.dir}`
      : !s.enabled
        ? `binfmt_misc is disabled (${join(s.dir, 'status')})`
        : r.unusable
          ? !r.unusable.enabled
            ? `its handler ${r.unusable.name} is disabled`
            : `its handler ${r.unusable.name} lacks flag F (flags "${r.unusable.flags}"), so its interpreter ` +
              `${r.unusable.interpreter} cannot be found inside a container's root`
          : `no binfmt_misc handler emulates ${platform.architecture}`;
    throw new EmulatorMissingError(
      name,
      `${what} needs platform ${name}, which this ${formatPlatform(host)} host cannot run: ${why}`,
      r.unusable && s.mounted && s.enabled
        ? r.unusable.enabled
          ? `register it again with flag F (qemu-user-static's handlers have it: update-binfmts --enable ${r.unusable.name})`
          : `enable it: update-binfmts --enable ${r.unusable.name}`
        : `install QEMU user emulation: ${INSTALL}`,
    );
  }
}
