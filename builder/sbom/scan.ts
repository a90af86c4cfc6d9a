// The SBOM scan of one image's rootfs: the OS package databases (dpkg, apk) are read at their fixed places, then
// one walk of the tree finds npm packages, Python distributions and Go binaries.
import { scanApk } from './apk.js';
import { readDistro, scanDpkg } from './dpkg.js';
import { goVisitor } from './gobin.js';
import { npmVisitor } from './npm.js';
import { pythonVisitor } from './python.js';
import type { Distro, FoundPackage, ImageTree } from './types.js';
import { drain, drainYielding, walkSteps, type WalkVisitor } from './walk.js';

export interface ScanResult {
  distro?: Distro;
  packages: FoundPackage[];
}

export function scanTree(tree: ImageTree): ScanResult {
  return drain(scanSteps(tree));
}

/** scanTree, giving the event loop a turn between directories of the walk (drainYielding). */
export function scanTreeYielding(tree: ImageTree): Promise<ScanResult> {
  return drainYielding(scanSteps(tree));
}

function* scanSteps(tree: ImageTree): Generator<void, ScanResult> {
  const distro = readDistro(tree);
  const packages = [...scanDpkg(tree, distro), ...scanApk(tree, distro)];
  yield;
  const walked: FoundPackage[] = [];
  yield* walkSteps(tree, visitors(tree, walked));
  packages.push(...dedupe(walked));
  return { ...(distro ? { distro } : {}), packages };
}

function visitors(tree: ImageTree, walked: FoundPackage[]): WalkVisitor[] {
  return [npmVisitor(tree, walked), pythonVisitor(tree, walked), goVisitor(tree, walked)];
}

/** The same package found twice (two copies of one npm version) is one entry: the first place it was found. */
function dedupe(found: FoundPackage[]): FoundPackage[] {
  const seen = new Map<string, FoundPackage>();
  for (const p of found) {
    const key = `${p.kind}\0${p.purl}`;
    const had = seen.get(key);
    if (had) had.files.push(...p.files);
    else seen.set(key, { ...p, files: [...p.files] });
  }
  return [...seen.values()];
}
