import { describe, expect, it } from 'vitest';
import { syntaxWarning } from './syntax.js';

describe('syntaxWarning', () => {
  it.each([
    null,
    'docker/dockerfile:1',
    'docker/dockerfile:1.7',
    'docker/dockerfile:1.7.1',
    'docker/dockerfile',
    'docker.io/docker/dockerfile:1',
    `docker/dockerfile:1@sha256:${'a'.repeat(64)}`,
  ])('is silent for %j (the syntax tsbuild implements)', (v) => {
    expect(syntaxWarning(v)).toBeUndefined();
  });

  it.each(['other/frontend', 'docker/dockerfile:1-labs', 'docker/dockerfile-upstream:master', 'docker/dockerfile:2'])(
    'names the directive and %j',
    (v) => {
      expect(syntaxWarning(v)).toBe(
        `# syntax=${v}: tsbuild does not run other frontends; it builds with its built-in parser (docker/dockerfile:1), without the extensions ${v} may have`,
      );
    },
  );
});
