// ESLint rule `tsbuild/architecture`: the six parts import one way only, and only through each other's index.ts.
//   cli → builder → parser | runtime | store | registry-client → oci      (docs/architecture.md)
// A file's part is the first folder of its path below the repository root; files outside the parts (index.ts at
// the root, test/, bench/, scripts/) are not checked. Type-only imports count too: a type is part of the contract.
import { dirname, relative, resolve, sep } from 'node:path';

/** Which parts each part may import (besides itself). */
export const ALLOWED = {
  oci: [],
  parser: [],
  runtime: ['oci'],
  store: ['oci'],
  'registry-client': ['oci'],
  builder: ['oci', 'parser', 'runtime', 'store', 'registry-client'],
  cli: ['oci', 'parser', 'runtime', 'store', 'registry-client', 'builder'],
};

const ENTRY = /^index\.(js|ts)$/;

/** The part a repository-relative path belongs to, or undefined. */
export function partOf(rel) {
  const first = rel.split(/[\\/]/)[0];
  return Object.hasOwn(ALLOWED, first) && rel.includes(sep === '\\' ? '\\' : '/') ? first : undefined;
}

export default {
  meta: {
    type: 'problem',
    docs: { description: 'parts import downward only, through index.ts' },
    schema: [{ type: 'object', properties: { root: { type: 'string' } }, additionalProperties: false }],
    messages: {
      upward: '{{from}}/ may not import {{to}}/ (allowed: {{allowed}}); see docs/architecture.md',
      deep: 'import {{to}}/ through {{to}}/index.ts, not {{path}} (export what you need from the index)',
    },
  },
  create(context) {
    const root = context.options[0]?.root ?? context.cwd;
    const file = relative(root, context.filename);
    const from = partOf(file);
    if (!from) return {};
    const check = (node, source) => {
      if (typeof source !== 'string' || !source.startsWith('.')) return;
      const target = relative(root, resolve(dirname(context.filename), source));
      const to = partOf(target);
      if (!to || to === from) return;
      if (!ALLOWED[from].includes(to)) {
        context.report({ node, messageId: 'upward', data: { from, to, allowed: ALLOWED[from].join(', ') || 'none' } });
        return;
      }
      const inside = target.slice(to.length + 1);
      if (!ENTRY.test(inside)) context.report({ node, messageId: 'deep', data: { to, path: target } });
    };
    return {
      ImportDeclaration: (n) => check(n.source, n.source.value),
      ExportNamedDeclaration: (n) => n.source && check(n.source, n.source.value),
      ExportAllDeclaration: (n) => check(n.source, n.source.value),
      ImportExpression: (n) => n.source.type === 'Literal' && check(n.source, n.source.value),
      TSImportType: (n) => {
        const lit = n.argument?.literal ?? n.argument;
        if (lit?.type === 'Literal') check(lit, lit.value);
      },
    };
  },
};
