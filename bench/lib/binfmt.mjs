// BuildKit in dockerd 20.10 probes which platforms it can emulate on every build when binfmt_misc has handlers:
// about 0.4 s outside the steps (../shared/notes/binfmt-and-buildkit.md), which would make a single-platform
// comparison flatter tsbuild. A bench that compares with BuildKit says so when it sees them.
import { readdirSync } from 'node:fs';

/** The registered binfmt_misc handlers (none when binfmt_misc is not mounted). */
export function binfmtHandlers() {
  try {
    return readdirSync('/proc/sys/fs/binfmt_misc').filter((f) => f !== 'register' && f !== 'status');
  } catch {
    return [];
  }
}

/** Prints a warning when BuildKit is among `tools` and emulators are registered. */
export function warnIfEmulators(tools) {
  const h = binfmtHandlers();
  if (!tools.includes('docker') || h.length === 0) return;
  console.log(
    `bench: WARNING: binfmt_misc has ${h.length} handlers registered: BuildKit probes them on every build (≈ 0.4 s),` +
      ' so its times here are not single-platform ones; `umount /proc/sys/fs/binfmt_misc` before comparing',
  );
}
