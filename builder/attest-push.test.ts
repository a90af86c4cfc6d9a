import { describe, expect, it } from 'vitest';
import { retarget } from './attest-push.js';

describe('retarget', () => {
  const a = 'a'.repeat(64);
  const b = 'b'.repeat(64);
  const c = 'c'.repeat(64);
  it('names the new digest where a subject named the old one, and writes the rest as it was', () => {
    const st = {
      _type: 'https://in-toto.io/Statement/v0.1',
      predicateType: 'https://slsa.dev/provenance/v1',
      subject: [
        { name: 'pkg:docker/x@1?platform=linux%2Famd64', digest: { sha256: a } },
        { name: 'pkg:docker/y@1?platform=linux%2Famd64', digest: { sha256: c } },
      ],
      predicate: { z: 1, sha256: a },
    };
    const out = JSON.parse(retarget(Buffer.from(JSON.stringify(st)), `sha256:${a}`, `sha256:${b}`).toString());
    expect(out).toEqual({
      ...st,
      subject: [
        { name: 'pkg:docker/x@1?platform=linux%2Famd64', digest: { sha256: b } },
        { name: 'pkg:docker/y@1?platform=linux%2Famd64', digest: { sha256: c } },
      ],
    });
    // the same key order and compact form as the builder writes
    expect(retarget(Buffer.from(JSON.stringify(st)), `sha256:${c}`, `sha256:${c}`).toString()).toBe(JSON.stringify(st));
  });
});
