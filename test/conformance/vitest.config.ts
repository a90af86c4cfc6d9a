import { defineConfig } from 'vitest/config';

// `npm run conformance`: the parser against BuildKit's own test data and 310 real-world Dockerfiles, read from
// ../shared/conformance next to the repository (not shipped to users, so `npm test` never reads it).
export default defineConfig({
  test: {
    include: ['test/conformance/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
  },
});
