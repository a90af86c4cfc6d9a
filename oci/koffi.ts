// koffi (the FFI runtime/ and store/ bind libc through), loaded for the least start-up cost. Here because both parts
// need it and oci/ is the one part both import.
import type Koffi from 'koffi';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let loaded: typeof Koffi | undefined;

/**
 * koffi's native addon, loaded directly when it is there and of the package's version: the package's entry first
 * runs its build tool's module (https, tls, zlib, crypto: about 30 built-ins Node loads for nothing) only to find
 * that addon, which costs every tsbuild process several milliseconds. The entry is the fallback (musl, another
 * layout). The addon exports what the entry does, less its deprecated aliases.
 */
export function loadKoffi(): typeof Koffi {
  if (loaded) return loaded;
  try {
    const { version } = require('koffi/package.json') as { version: string };
    const native = require(`koffi/build/koffi/${process.platform}_${process.arch}/koffi.node`) as typeof Koffi & {
      version?: string;
    };
    if (native.version === version) loaded = native;
  } catch {
    /* the entry below finds it */
  }
  loaded ??= require('koffi') as typeof Koffi;
  return loaded;
}
