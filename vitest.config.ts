import { defineConfig } from 'vitest/config';

// Tests run the real thing (namespaces, overlay mounts, a real registry), so they run in forked processes and
// with generous timeouts; nothing here may assert on timings.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', '{parser,builder,runtime,store,registry-client,cli,oci}/**/*.test.ts'],
    exclude: ['test/conformance/**', 'node_modules/**', 'dist/**'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 600_000,
    globalSetup: ['test/global-setup.ts'],
  },
});
