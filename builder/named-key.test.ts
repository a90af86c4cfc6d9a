import { describe, expect, it } from 'vitest';
import { contextKey } from './named-key.js';

describe('contextKey (how --build-context names match FROM and --from words)', () => {
  it('matches an image word in its familiar form, :latest trimmed, as BuildKit', () => {
    for (const w of ['alpine', 'alpine:latest', 'docker.io/library/alpine', 'library/alpine:latest'])
      expect(contextKey(w)).toBe('alpine');
    expect(contextKey('alpine:3.20')).toBe('alpine:3.20');
    expect(contextKey('ghcr.io/org/tool:1')).toBe('ghcr.io/org/tool:1');
    expect(contextKey('myorg/img')).toBe('myorg/img');
  });

  it('a word that is no reference matches itself, lower-cased (stage names are case-insensitive)', () => {
    expect(contextKey('Build_Stage')).toBe('build_stage');
  });
});
