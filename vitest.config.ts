import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Two cores on every machine here: run files in parallel but keep each heavy suite bounded.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
