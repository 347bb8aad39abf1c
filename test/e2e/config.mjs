/**
 * A bad setting under the real `npm run dev`: every request, not only the first, is answered
 * with the JSON 500 naming the setting (each request runs in its own I/O context, so nothing
 * built for one request may be handed to the next).
 */
import { check, startStack } from './lib.mjs'

/** @param {import('./lib.mjs').Resources} resources */
export async function configTest(resources) {
  const state = await resources.tempDir('config')
  const { base } = await startStack(resources, state, { SESSION_COOKIE_AGE: 'two weeks' }, 500)
  for (const path of ['/healthz', '/auth/me', '/healthz', '/anything']) {
    const response = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(10_000) })
    check(response.status === 500, `${path} is 500, got ${response.status}`)
    const body = await response.json()
    check(
      body.detail?.includes('SESSION_COOKIE_AGE'),
      `${path} names the setting: ${JSON.stringify(body)}`,
    )
  }
}
