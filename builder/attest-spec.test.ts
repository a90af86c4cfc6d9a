import { describe, expect, it } from 'vitest';
import { parseAttestFlags } from './attest-spec.js';

describe('--sbom, --provenance, --attest', () => {
  it('none given, or all disabled: no attestations', () => {
    expect(parseAttestFlags({})).toBeUndefined();
    expect(parseAttestFlags({ sbom: 'false', provenance: '0' })).toBeUndefined();
    expect(parseAttestFlags({ attest: ['type=sbom,disabled=true'] })).toBeUndefined();
  });

  it('the short flags and the long form agree', () => {
    expect(parseAttestFlags({ sbom: 'true' })).toEqual({ sbom: { scanStages: false, format: 'spdx' } });
    expect(parseAttestFlags({ attest: ['type=sbom'] })).toEqual({ sbom: { scanStages: false, format: 'spdx' } });
    expect(parseAttestFlags({ sbom: 'scan-stage=true' })).toEqual({ sbom: { scanStages: true, format: 'spdx' } });
    expect(parseAttestFlags({ provenance: 'true' })).toEqual({ provenance: { mode: 'min' } });
    expect(parseAttestFlags({ provenance: 'mode=max' })).toEqual({ provenance: { mode: 'max' } });
    expect(parseAttestFlags({ attest: ['type=provenance,mode=max', 'type=sbom,referrers=true'] })).toEqual({
      provenance: { mode: 'max' },
      sbom: { scanStages: false, format: 'spdx' },
      referrers: true,
    });
    // a later --attest turns off what an earlier flag asked
    expect(parseAttestFlags({ sbom: 'true', provenance: 'true', attest: ['type=sbom,disabled=true'] })).toEqual({
      provenance: { mode: 'min' },
    });
  });

  it('what cannot be honoured is refused, naming it', () => {
    expect(() => parseAttestFlags({ attest: ['type=vex'] })).toThrow(/unknown attestation type "vex"/);
    expect(() => parseAttestFlags({ attest: ['mode=max'] })).toThrow(/no type=/);
    expect(() => parseAttestFlags({ provenance: 'mode=full' })).toThrow(/mode=full/);
    expect(() => parseAttestFlags({ sbom: 'generator=img' })).toThrow(/generator=img/);
    expect(parseAttestFlags({ attest: ['type=sbom,format=cyclonedx'] })).toEqual({
      sbom: { scanStages: false, format: 'cyclonedx' },
    });
    expect(() => parseAttestFlags({ sbom: 'format=syft' })).toThrow(/format=syft: only spdx/);
    expect(() => parseAttestFlags({ attest: ['type=sbom,colour=red'] })).toThrow(/unsupported key "colour"/);
    expect(() => parseAttestFlags({ sbom: 'maybe=yes,x' })).toThrow(/"x" is not KEY=VALUE/);
  });
});
