/** Applies schema.sql to this test file's D1 before its tests run. */
import { env } from 'cloudflare:workers'
import { beforeAll } from 'vitest'
import { applySchema } from './helpers'

beforeAll(async () => {
  await applySchema(env.DB, env.TEST_SCHEMA)
})
