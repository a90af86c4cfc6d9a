// The Go renderings BuildKit's history uses (dockerfile2llb's commitToHistory calls). test/equivalence compares
// with a dockerd; these pin the current BuildKit's form where that dockerd's older one differs.
import { describe, expect, it } from 'vitest';
import { copyCreatedBy, goDuration, goHealthcheck, goList, goQuoteRune } from './image-config.js';

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
  it('renders HEALTHCHECK with its four durations (start interval last), and %v slices', () => {
    expect(goHealthcheck({ Test: ['CMD-SHELL', 'wget -q localhost || exit 1'], Interval: 300e9, Timeout: 3e9 })).toBe(
      '&{["CMD-SHELL" "wget -q localhost || exit 1"] "5m0s" "3s" "0s" "0s" \'\\x00\'}',
    );
    const hc = { Test: ['CMD', 'true'], Interval: 90e9, Timeout: 1.5e9, StartPeriod: 120e9, StartInterval: 5e9 };
    expect(goHealthcheck({ ...hc, Retries: 3 })).toBe('&{["CMD" "true"] "1m30s" "1.5s" "2m0s" "5s" \'\\x03\'}');
    expect(goHealthcheck({ Test: ['NONE'] })).toBe('&{["NONE"] "0s" "0s" "0s" "0s" \'\\x00\'}');
    expect(goList(['/bin/sh', '-ec'])).toBe('[/bin/sh -ec]');
  });
  it('writes COPY and ADD as BuildKit does: --parents, --chown, --chmod, never --from; heredocs after the paths', () => {
    const none = { parents: false, chown: undefined, chmod: undefined };
    expect(copyCreatedBy('COPY', none, ['/out'], [], '/app/')).toBe('COPY /out /app/ # buildkit');
    expect(copyCreatedBy('ADD', { parents: true, chown: '1:2', chmod: '600' }, ['a', 'b'], [], 'd/')).toBe(
      'ADD --parents --chown=1:2 --chmod=600 a b d/ # buildkit',
    );
    expect(copyCreatedBy('COPY', none, ['x'], ['EOF'], '/d/')).toBe('COPY x <<EOF /d/ # buildkit');
  });
});
