import { readFileSync } from 'node:fs'
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers'
import { configDefaults, defineConfig } from 'vitest/config'
import { unstable_splitSqlQuery as splitSqlQuery } from 'wrangler'

/** A SQL file's statements, split as `wrangler d1 execute --file` splits them. */
function statements(path: string): string[] {
  return splitSqlQuery(readFileSync(path, 'utf8'))
}

/**
 * Tests run inside workerd with real local KV and D1 (miniflare), one storage per test file.
 * test/setup.ts applies the migrations, read here and handed over as a binding because the tests
 * cannot read the file system; so is schema.sql, for the test that compares the two.
 */
export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: './wrangler.toml' },
      miniflare: {
        // Empty databases for the schema tests (test/storage/migrations.test.ts).
        d1Databases: ['SCHEMA_DB', 'UPGRADE_DB'],
        // Real Workers Rate Limiting bindings (Miniflare counts them in memory, in fixed windows
        // of the period), for the rate-limit tests: test/throttle/rate-limit.test.ts hands them
        // to an app as USER_RATE_LIMITER and ANON_RATE_LIMITER.
        ratelimits: {
          TEST_USER_LIMITER: { simple: { limit: 3, period: 60 } },
          TEST_ANON_LIMITER: { simple: { limit: 3, period: 10 } },
        },
        // Cloudflare's e-mail sending, run locally by miniflare (EMAIL_BACKEND=cloudflare).
        email: { send_email: [{ name: 'EMAIL' }] },
        bindings: {
          TEST_MIGRATIONS: await readD1Migrations('migrations'),
          TEST_SCHEMA: statements('schema.sql'),
          TEST_SCHEMA_V1: statements('test/fixtures/schema-v1.sql'),
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
    // The Node-side tools' tests (the user CLI, wrangler, the docs) run in Node:
    // vitest.node.config.ts.
    exclude: [
      ...configDefaults.exclude,
      'test/cli/**',
      'test/migrations/**',
      'test/docs/**',
      'test/bench/**',
    ],
    setupFiles: ['test/setup.ts'],
    // Time for real work on a busy machine (CI shares its two cores), not a performance bound. The
    // dearest tests verify Django's own hashes (a million PBKDF2 iterations in JavaScript, argon2
    // over 100 MiB, scrypt) several times each: up to 3.5 s with the cores free, 7.2 s with both
    // taken by other processes, past vitest's 5 s default. A hang still fails, a minute later.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Real local HTTP servers: origins for the gateway tests (test/gateway/origin.ts), a mail
    // relay for the e-mail tests (test/mail/relay.ts) and an identity provider for the SSO tests
    // (test/sso/provider.ts).
    globalSetup: ['test/gateway/origin.ts', 'test/mail/relay.ts', 'test/sso/provider.ts'],
  },
})
