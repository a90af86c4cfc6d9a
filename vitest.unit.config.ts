import { defineConfig } from 'vitest/config';

// The fast lane (`npm run test:unit`): pure tests that need neither root nor a compiled build nor a registry —
// the parser, expansion, planning, cache keys, references, manifests, tar headers, BPF, lint rules. Tests beside a
// module (`foo.test.ts` next to `foo.ts`) are pure by convention; the pure ones under test/ are listed here.
export default defineConfig({
  test: {
    include: [
      '{oci,parser,builder,runtime,store,registry-client,cli}/**/*.test.ts',
      'test/lint/**/*.test.ts',
      'test/parser/{dump,errors,expand,parse,positions,sample}.test.ts',
      'test/builder/{plan,units}.test.ts',
      'test/cli/{errors,events-schema,explain,tty-frame}.test.ts',
      'test/registry/units.test.ts',
      'test/remote-cache/spec.test.ts',
      'test/runtime/run-command.test.ts',
      'test/deploy/recipes.test.ts',
    ],
    exclude: ['node_modules/**', 'dist/**'],
    pool: 'threads',
  },
});
