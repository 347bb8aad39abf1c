import { availableParallelism } from 'node:os'
import { defineConfig } from 'vitest/config'

/**
 * Tests of the Node-side tools (the user CLI, wrangler's migrations) and of the docs against the
 * code: they run in Node, not workerd.
 */
export default defineConfig({
  test: {
    include: [
      'test/cli/**/*.test.ts',
      'test/migrations/**/*.test.ts',
      'test/docs/**/*.test.ts',
      'test/bench/**/*.test.ts',
    ],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    passWithNoTests: true,
    // A test file mostly waits for the processes it starts (the CLI, workerd), so one file per
    // core, not vitest's default of one fewer (a single file at a time on two cores).
    maxWorkers: availableParallelism(),
  },
})
