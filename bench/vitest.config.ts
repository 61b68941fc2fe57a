import { defineConfig } from 'vitest/config';

// Unit tests of the bench's pure parts: `npx vitest run --config bench/vitest.config.ts`.
// (Until the root vitest.config.ts includes bench/**/*.test.ts, `npm test` does not pick them up.)
export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['bench/**/*.test.ts'],
    reporters: ['default'],
  },
});
