import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Two cores on every machine here: run files in parallel but keep each heavy suite bounded.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Refuses to run the CLI suites against a stale dist/ (test/global-setup.ts).
    globalSetup: ['test/global-setup.ts'],
  },
});
