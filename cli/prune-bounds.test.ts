import { describe, expect, it } from 'vitest';
import { parseDuration, parseSize, pruneBounds } from './prune-bounds.js';

describe('prune bounds', () => {
  it('reads sizes as buildx does (binary multiples)', () => {
    expect(parseSize('10GB')).toBe(10 * 2 ** 30);
    expect(parseSize('512MB')).toBe(512 * 2 ** 20);
    expect(parseSize('512mb')).toBe(512 * 2 ** 20);
    expect(parseSize('1.5g')).toBe(1.5 * 2 ** 30);
    expect(parseSize('64k')).toBe(65536);
    expect(parseSize('4096')).toBe(4096);
    expect(parseSize('2 GiB')).toBe(2 * 2 ** 30);
    for (const bad of ['', 'GB', '10 XB', '-1GB', '10GBs', '1e3'])
      expect(() => parseSize(bad), bad).toThrow(/--keep-storage .* is not a size/);
  });

  it('reads durations as Go does', () => {
    expect(parseDuration('24h')).toBe(24 * 3_600_000);
    expect(parseDuration('30m')).toBe(30 * 60_000);
    expect(parseDuration('1h30m')).toBe(90 * 60_000);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('1.5h')).toBe(90 * 60_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('0')).toBe(0);
    for (const bad of ['', '24', 'h', '1d', '24h ', '-1h', '1h-30m'])
      expect(() => parseDuration(bad), bad).toThrow(/is not a duration/);
  });

  it('takes until= and refuses other filter keys by name', () => {
    expect(pruneBounds({ filter: ['until=24h'], keepStorage: '1GB' })).toEqual({
      untilMs: 24 * 3_600_000,
      keepStorage: 2 ** 30,
    });
    expect(pruneBounds({ filter: [] })).toEqual({});
    expect(() => pruneBounds({ filter: ['type=regular'] })).toThrow(/--filter type is not supported/);
    expect(() => pruneBounds({ filter: ['label=a=b'] })).toThrow(/--filter label is not supported/);
    expect(() => pruneBounds({ filter: ['until'] })).toThrow(/until needs a duration/);
    expect(() => pruneBounds({ filter: ['until=soon'] })).toThrow(/until="soon" is not a duration/);
  });
});
