import type { Env as WorkerEnv } from '../src/env'

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {
      /** schema.sql, handed to the tests by vitest.config.ts. */
      TEST_SCHEMA: string
    }
  }
}
