import type { D1Migration } from 'cloudflare:test'
import type { Env as WorkerEnv } from '../src/env'

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {
      /** migrations/, read by vitest.config.ts; test/setup.ts applies them to DB. */
      TEST_MIGRATIONS: D1Migration[]
      /** schema.sql's statements, split as `wrangler d1 execute --file` splits them. */
      TEST_SCHEMA: string[]
      /** The first release's schema.sql (test/fixtures/schema-v1.sql), split the same way. */
      TEST_SCHEMA_V1: string[]
      /** Empty databases for the schema tests (test/storage/migrations.test.ts). */
      SCHEMA_DB: D1Database
      UPGRADE_DB: D1Database
      /** Real rate limiters (limit 3 per 60 s, and per 10 s), configured in vitest.config.ts. */
      TEST_USER_LIMITER: RateLimit
      TEST_ANON_LIMITER: RateLimit
    }
  }
}
