/**
 * Overlay's `lowerdir=` order from a layer list. Layers are given lowest first (the order of `rootfs.diff_ids`);
 * overlay wants the top-most first and refuses the same directory twice (ELOOP), which happens whenever an image
 * holds the same layer twice (a step that reproduces an earlier layer exactly, e.g. a no-op chmod). Keeping only
 * the top-most copy gives the same merged tree: that copy re-applies everything the lower one did, whiteouts and
 * opaque directories included, above every layer in between.
 */
export function overlayLowerOrder(lowestFirst: readonly string[]): string[] {
  const seen = new Set<string>();
  const topFirst: string[] = [];
  for (let i = lowestFirst.length - 1; i >= 0; i--) {
    const d = lowestFirst[i]!;
    if (seen.has(d)) continue;
    seen.add(d);
    topFirst.push(d);
  }
  return topFirst;
}
