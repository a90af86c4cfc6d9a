// `--sbom`, `--provenance` and `--attest` as buildx reads them, into one request (or none: attestations are off
// unless asked). Anything tsbuild cannot honour is refused naming itself (exit 2), never ignored.
import { UsageError } from '../oci/index.js';
import { splitCsv } from './output-spec.js';

export interface AttestRequest {
  /**
   * SBOM of the final image; `scanStages`: of every other stage the build ran, too. `format`: SPDX 2.3 JSON (the
   * default, as BuildKit's), or CycloneDX 1.6 JSON (`format=cyclonedx`, tsbuild's own key).
   */
  sbom?: { scanStages: boolean; format: 'spdx' | 'cyclonedx' };
  /** SLSA provenance; `max` adds build args, secret ids and the Buildfile. */
  provenance?: { mode: 'min' | 'max' };
  /** Also push the attestations as OCI referrers (the referrers API, or its tag fallback). */
  referrers?: boolean;
}

export class AttestSpecError extends UsageError {
  override name = 'AttestSpecError';
  constructor(flag: string, message: string) {
    super(`${flag}: ${message}`, {
      hint: 'use --sbom[=true|false], --provenance[=true|false|mode=min|max] or --attest type=sbom|provenance[,KEY=VALUE…]',
    });
  }
}

const bool = (flag: string, v: string): boolean => {
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new AttestSpecError(flag, `"${v}" is not true or false`);
};

/** `flags`: the values as given, undefined when the flag was not; `--sbom` alone is `true`. */
export function parseAttestFlags(flags: {
  sbom?: string;
  provenance?: string;
  attest?: string[];
}): AttestRequest | undefined {
  const req: AttestRequest = {};
  const specs: { flag: string; type: string; kv: Map<string, string> }[] = [];
  if (flags.sbom !== undefined) specs.push(shorthand('--sbom', 'sbom', flags.sbom));
  if (flags.provenance !== undefined) specs.push(shorthand('--provenance', 'provenance', flags.provenance));
  for (const a of flags.attest ?? []) {
    const kv = pairs('--attest', a);
    const type = kv.get('type');
    if (!type) throw new AttestSpecError('--attest', `"${a}" has no type= (sbom or provenance)`);
    kv.delete('type');
    specs.push({ flag: `--attest type=${type}`, type, kv });
  }
  for (const { flag, type, kv } of specs) {
    const disabled = kv.has('disabled') ? bool(flag, kv.get('disabled')!) : false;
    kv.delete('disabled');
    if (kv.has('referrers')) req.referrers = bool(flag, kv.get('referrers')!);
    kv.delete('referrers');
    if (type === 'sbom') {
      let scanStages = false;
      if (kv.has('scan-stage')) scanStages = bool(flag, kv.get('scan-stage')!);
      kv.delete('scan-stage');
      const gen = kv.get('generator');
      // BuildKit runs a scanner image; tsbuild scans in-process and has no generator to swap
      if (gen !== undefined)
        throw new AttestSpecError(flag, `generator=${gen}: tsbuild scans in-process; no generator image can be used`);
      const format = kv.get('format') ?? 'spdx';
      if (format !== 'spdx' && format !== 'cyclonedx')
        throw new AttestSpecError(
          flag,
          `format=${format}: only spdx (SPDX 2.3 JSON) and cyclonedx (CycloneDX 1.6 JSON)`,
        );
      kv.delete('format');
      refuseRest(flag, kv);
      if (disabled) delete req.sbom;
      else req.sbom = { scanStages, format };
    } else if (type === 'provenance') {
      const mode = kv.get('mode') ?? 'min';
      if (mode !== 'min' && mode !== 'max') throw new AttestSpecError(flag, `mode=${mode}: only min and max`);
      kv.delete('mode');
      refuseRest(flag, kv);
      if (disabled) delete req.provenance;
      else req.provenance = { mode };
    } else {
      throw new AttestSpecError(flag, `unknown attestation type "${type}" (sbom or provenance)`);
    }
  }
  return req.sbom || req.provenance ? req : undefined;
}

/** `--sbom=true|false|KEY=VALUE,…` and `--provenance=…`: a bare boolean, or the keys of `--attest`. */
function shorthand(flag: string, type: string, v: string): { flag: string; type: string; kv: Map<string, string> } {
  if (v === '' || v === 'true' || v === 'false' || v === '1' || v === '0') {
    return { flag, type, kv: new Map(bool(flag, v === '' ? 'true' : v) ? [] : [['disabled', 'true']]) };
  }
  return { flag, type, kv: pairs(flag, v) };
}

function pairs(flag: string, v: string): Map<string, string> {
  const kv = new Map<string, string>();
  for (const field of splitCsv(v)) {
    const eq = field.indexOf('=');
    if (eq <= 0) throw new AttestSpecError(flag, `"${field}" is not KEY=VALUE`);
    kv.set(field.slice(0, eq).trim().toLowerCase(), field.slice(eq + 1));
  }
  return kv;
}

function refuseRest(flag: string, kv: Map<string, string>): void {
  const k = [...kv.keys()][0];
  if (k !== undefined) throw new AttestSpecError(flag, `unsupported key "${k}"`);
}
