import { readFileSync } from 'node:fs'
import { cloudflareTest } from '@cloudflare/vitest-pool-workers'
import { configDefaults, defineConfig } from 'vitest/config'

/**
 * Tests run inside workerd with real local KV and D1 (miniflare), one storage per test file.
 * test/setup.ts applies schema.sql, which is handed over as a binding because the tests cannot
 * read the file system.
 */
export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: './wrangler.toml' },
      miniflare: {
        bindings: {
          TEST_SCHEMA: readFileSync('schema.sql', 'utf8'),
          SECRET_KEY: 'test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGH',
          ORIGIN_URL: '',
          // wrangler also reads .dev.vars (written by `npm run dev`): pin what it would change.
          DEBUG: 'false',
          ASSERTION_KEYS: '',
        },
      },
    }),
  ],
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // The Node-side tools' tests (the user CLI) run in Node: vitest.node.config.ts.
    exclude: [...configDefaults.exclude, 'test/cli/**'],
    setupFiles: ['test/setup.ts'],
    // A real local HTTP origin for the gateway tests (test/gateway/origin.ts).
    globalSetup: ['test/gateway/origin.ts'],
  },
})
