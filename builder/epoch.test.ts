import { describe, expect, it } from 'vitest';
import { sourceDateEpoch } from './epoch.js';

describe('sourceDateEpoch', () => {
  it('takes the build arg, which wins over the environment variable (as in BuildKit and buildx)', () => {
    expect(sourceDateEpoch({ SOURCE_DATE_EPOCH: '1000' }, { SOURCE_DATE_EPOCH: '2000' })).toEqual({ epoch: 1000 });
    expect(sourceDateEpoch({ SOURCE_DATE_EPOCH: '0' }, {})).toEqual({ epoch: 0 });
  });

  it('falls back to the environment variable, and to none', () => {
    expect(sourceDateEpoch({}, { SOURCE_DATE_EPOCH: '2000' })).toEqual({ epoch: 2000 });
    expect(sourceDateEpoch(undefined, {})).toEqual({ epoch: undefined });
    expect(sourceDateEpoch({}, { SOURCE_DATE_EPOCH: '' })).toEqual({ epoch: undefined });
  });

  it('refuses a malformed build arg (a usage error) and ignores a malformed variable with a warning', () => {
    expect(() => sourceDateEpoch({ SOURCE_DATE_EPOCH: 'yesterday' }, {})).toThrow(
      /--build-arg SOURCE_DATE_EPOCH="yesterday": expected a number of seconds/,
    );
    const r = sourceDateEpoch({}, { SOURCE_DATE_EPOCH: '-5' });
    expect(r.epoch).toBeUndefined();
    expect(r.warning).toMatch(/SOURCE_DATE_EPOCH="-5" in the environment .* ignored/);
  });
});
