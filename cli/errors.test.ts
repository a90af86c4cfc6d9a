import { describe, expect, it } from 'vitest';
import { TsbuildError, UsageError } from '../oci/index.js';
import { exitCodeFor, formatError } from './errors.js';

describe('formatError', () => {
  it('prints the hint of an error that does not render itself', () => {
    const e = new UsageError('--output "type=x": unknown type', { hint: 'use type=image, local, tar, oci or docker' });
    expect(formatError(e, false)).toBe(
      'error: --output "type=x": unknown type\nhint: use type=image, local, tar, oci or docker',
    );
    expect(exitCodeFor(e)).toBe(2);
  });

  it('prints no hint line when there is none, and leaves a self-rendering error alone', () => {
    expect(formatError(new TsbuildError('X', 'plain'), false)).toBe('error: plain');
    const r = Object.assign(new TsbuildError('Y', 'm', { hint: 'h' }), { render: () => 'rendered\n  hint: h' });
    expect(formatError(r, false)).toBe('error: rendered\n  hint: h');
  });
});
