import { describe, expect, it } from 'vitest';
import { decorate } from './decorate.js';

class Counter {
  n = 0;
  inc(): number {
    return ++this.n;
  }
  twice(): number {
    this.inc();
    return this.inc();
  }
}

describe('decorate', () => {
  it('passes through what it does not override, bound to the inner object', () => {
    const inner = new Counter();
    const d = decorate(inner, { twice: () => -1 });
    expect(d.inc()).toBe(1);
    expect(inner.n).toBe(1);
    expect(d.twice()).toBe(-1);
    expect(inner.n).toBe(1);
  });

  it('passes through plain objects and their own members', () => {
    const inner = { a: (): string => 'a', b: (): string => 'b' };
    const d = decorate(inner, { b: () => 'B' });
    expect([d.a(), d.b()]).toEqual(['a', 'B']);
  });
});
