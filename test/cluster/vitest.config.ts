// The cluster test runs alone (`make test-cluster`): one real node for the whole file, started
// and torn down by the test itself, so it is not part of the unit or integration projects.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'cluster',
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/cluster/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 900_000,
    fileParallelism: false,
  },
});
