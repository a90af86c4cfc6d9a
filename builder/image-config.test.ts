// The Go renderings BuildKit's history uses; the expected texts are what dockerd's BuildKit wrote.
import { describe, expect, it } from 'vitest';
import { goDuration, goHealthcheck, goList, goQuoteRune } from './image-config.js';

describe('Go renderings for created_by', () => {
  it('formats durations as time.Duration.String()', () => {
    const cases: [number, string][] = [
      [0, '0s'],
      [7, '7ns'],
      [1500, '1.5µs'],
      [5e8, '500ms'],
      [1.5e9, '1.5s'],
      [3e9, '3s'],
      [90e9, '1m30s'],
      [120e9, '2m0s'],
      [300e9, '5m0s'],
      [3600e9, '1h0m0s'],
      [3723.25e9, '1h2m3.25s'],
    ];
    for (const [ns, text] of cases) expect(goDuration(ns), String(ns)).toBe(text);
  });
  it('quotes an int as a rune, as %q does', () => {
    expect(goQuoteRune(0)).toBe("'\\x00'");
    expect(goQuoteRune(3)).toBe("'\\x03'");
    expect(goQuoteRune(10)).toBe("'\\n'");
    expect(goQuoteRune(65)).toBe("'A'");
    expect(goQuoteRune(39)).toBe("'\\''");
  });
  it('renders HEALTHCHECK and %v slices as dockerd does', () => {
    expect(goHealthcheck({ Test: ['CMD-SHELL', 'wget -q localhost || exit 1'], Interval: 300e9, Timeout: 3e9 })).toBe(
      '&{["CMD-SHELL" "wget -q localhost || exit 1"] "5m0s" "3s" "0s" \'\\x00\'}',
    );
    expect(
      goHealthcheck({ Test: ['CMD', 'true'], Interval: 90e9, Timeout: 1.5e9, StartPeriod: 120e9, Retries: 3 }),
    ).toBe('&{["CMD" "true"] "1m30s" "1.5s" "2m0s" \'\\x03\'}');
    expect(goHealthcheck({ Test: ['NONE'] })).toBe('&{["NONE"] "0s" "0s" "0s" \'\\x00\'}');
    expect(goList(['/bin/sh', '-ec'])).toBe('[/bin/sh -ec]');
  });
});
