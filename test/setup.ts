/**
 * Migrates this test file's empty D1 before its tests run, through `applyD1Migrations`, which
 * records them in `d1_migrations` as `wrangler d1 migrations apply` does.
 */
import { applyD1Migrations } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { beforeAll } from 'vitest'

beforeAll(async () => {
  await applyD1Migrations(env.DB, env.TEST_MIGRATIONS)
})
