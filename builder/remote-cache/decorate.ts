// A decorator that names only what it intercepts: every other member of the wrapped object is passed through,
// bound to it, so a member added to a store interface needs no change here.

/** `inner` with the members of `over` in place of its own; every other method still runs on `inner`. */
export function decorate<T extends object>(inner: T, over: Partial<T>): T {
  const out: Record<string, unknown> = {};
  for (let p: object | null = inner; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p) as object) {
    for (const key of Object.getOwnPropertyNames(p)) {
      if (key === 'constructor' || key in out) continue;
      const value: unknown = Reflect.get(inner, key);
      out[key] = typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(inner) : value;
    }
  }
  return Object.assign(out, over) as T;
}
