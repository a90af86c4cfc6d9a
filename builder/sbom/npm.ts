// npm packages: every `node_modules/NAME/package.json` and `node_modules/@SCOPE/NAME/package.json`, nested
// node_modules included (what `npm ls --all` lists from the tree: one entry per installed copy; the SBOM keeps
// each distinct name@version once).
import { purl } from './purl.js';
import type { FoundPackage, ImageTree } from './types.js';
import type { WalkVisitor } from './walk.js';

const MAX_PACKAGE_JSON = 4 * 1024 * 1024;

export function npmVisitor(tree: ImageTree, out: FoundPackage[]): WalkVisitor {
  return {
    file: (f) => {
      if (f.name !== 'package.json') return;
      const parts = f.path.split('/');
      // …/node_modules/NAME/package.json or …/node_modules/@SCOPE/NAME/package.json
      const scoped =
        parts.length >= 5 && parts[parts.length - 4] === 'node_modules' && parts[parts.length - 3]!.startsWith('@');
      if (!scoped && parts[parts.length - 3] !== 'node_modules') return;
      const pkg = readJson(tree, f.path);
      if (!pkg || typeof pkg.name !== 'string' || typeof pkg.version !== 'string') return;
      const expected = scoped ? `${parts[parts.length - 3]}/${parts[parts.length - 2]}` : parts[parts.length - 2];
      // npm names the directory for the package (an alias installs under another name: kept under its own)
      const name = pkg.name === expected ? pkg.name : expected!;
      const slash = name.startsWith('@') ? name.indexOf('/') : -1;
      out.push({
        kind: 'npm',
        name,
        version: pkg.version,
        purl:
          slash > 0
            ? purl('npm', name.slice(0, slash), name.slice(slash + 1), pkg.version)
            : purl('npm', undefined, name, pkg.version),
        ...(licenseOf(pkg) ? { license: licenseOf(pkg)! } : {}),
        foundIn: f.path,
        files: [],
      });
    },
  };
}

function readJson(tree: ImageTree, path: string): Record<string, unknown> | undefined {
  const buf = tree.read(path, MAX_PACKAGE_JSON);
  if (!buf) return undefined;
  try {
    const v: unknown = JSON.parse(buf.toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** `license` as a string, or the old `{type}` and `licenses: [{type}]` forms. */
function licenseOf(pkg: Record<string, unknown>): string | undefined {
  const l = pkg.license;
  if (typeof l === 'string') return l;
  if (l && typeof l === 'object' && typeof (l as { type?: unknown }).type === 'string')
    return (l as { type: string }).type;
  if (Array.isArray(pkg.licenses)) {
    const types = pkg.licenses.flatMap((x: unknown) =>
      x && typeof x === 'object' && typeof (x as { type?: unknown }).type === 'string'
        ? [(x as { type: string }).type]
        : [],
    );
    if (types.length > 0) return types.join(' OR ');
  }
  return undefined;
}
