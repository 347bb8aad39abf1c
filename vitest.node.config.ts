import { defineConfig } from 'vitest/config'

/** Tests of the Node-side tools (the user CLI, dev start-up): they run in Node, not workerd. */
export default defineConfig({
  test: {
    include: ['test/cli/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    passWithNoTests: true,
  },
})
