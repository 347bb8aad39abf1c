import { readFileSync } from 'node:fs'
import { cloudflareTest } from '@cloudflare/vitest-pool-workers'
import { defineConfig } from 'vitest/config'

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
        },
      },
    }),
  ],
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
  },
})
