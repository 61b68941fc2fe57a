import { defineConfig } from 'vitest/config';

// Integration tests load real models and talk to real Redis: run files one at a time on this 2-core machine.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'bench/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    pool: 'forks',
    reporters: ['default'],
  },
});
