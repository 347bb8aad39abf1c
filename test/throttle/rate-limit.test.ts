import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import type { Env } from '../../src/env'
import { appFetch, Client, createUser } from '../helpers'

/** An app with the real limiters of vitest.config.ts (3 requests a window) as its bindings. */
function limitedApp(overrides: Partial<Env> = {}) {
  return appFetch({
    USER_RATE_LIMITER: env.TEST_USER_LIMITER,
    ANON_RATE_LIMITER: env.TEST_ANON_LIMITER,
    ANON_RATE_LIMIT_PERIOD: '10',
    ...overrides,
  })
}

/** A client address no other test uses, so each test has its own anonymous bucket. */
function freshIp(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(3))
  return `10.${bytes[0]}.${bytes[1]}.${bytes[2]}`
}

/** A client signed in as `user`, from an address of its own (anonymous requests count by it). */
async function signedIn(
  fetcher: ReturnType<typeof appFetch>,
  user: { username: string; password: string },
) {
  const client = new Client(fetcher)
  const response = await client.post('/auth/login', {
    json: { username: user.username, password: user.password },
    headers: { 'CF-Connecting-IP': freshIp() },
  })
  expect(response.status).toBe(200)
  return client
}

/**
 * Sends requests until one is throttled: the responses up to and including it. Miniflare counts
 * in fixed windows of the period, so a window may turn over once during the run; 2 x limit + 1
 * requests are then still enough to reach the limit.
 */
async function untilThrottled(send: () => Promise<Response>, limit = 3): Promise<Response[]> {
  const responses: Response[] = []
  for (let i = 0; i < 2 * limit + 1; i++) {
    const response = await send()
    responses.push(response)
    if (response.status === 429) break
  }
  return responses
}

describe('request rate limits', () => {
  it("answers 429 with Retry-After and DRF's message past the per-user limit", async () => {
    const fetcher = limitedApp()
    const user = await createUser()
    const client = await signedIn(fetcher, user)
    const responses = await untilThrottled(() => client.get('/auth/me'))
    const last = responses.at(-1) as Response
    expect(last.status).toBe(429)
    expect(last.headers.get('Retry-After')).toBe('60')
    expect(await last.json()).toEqual({
      detail: 'Request was throttled. Expected available in 60 seconds.',
    })
    // Every request before it passed: the limit was reached, not guessed.
    expect(responses.slice(0, -1).every((response) => response.status === 200)).toBe(true)
    expect(responses.length).toBeGreaterThanOrEqual(3)
  })

  it('counts each user apart, whatever their address', async () => {
    const fetcher = limitedApp()
    const [first, second] = [await createUser(), await createUser()]
    const ip = freshIp()
    const a = await signedIn(fetcher, first)
    await untilThrottled(() => a.get('/auth/me', { headers: { 'CF-Connecting-IP': ip } }))
    const b = await signedIn(fetcher, second)
    const response = await b.get('/auth/me', { headers: { 'CF-Connecting-IP': ip } })
    expect(response.status).toBe(200)
  })

  it('limits anonymous requests per client address, with the anonymous period', async () => {
    const fetcher = limitedApp()
    const ip = freshIp()
    const send = () =>
      fetcher(new Request('http://localhost/auth/csrf', { headers: { 'CF-Connecting-IP': ip } }))
    const responses = await untilThrottled(send)
    const last = responses.at(-1) as Response
    expect(last.status).toBe(429)
    expect(last.headers.get('Retry-After')).toBe('10')
    const other = await fetcher(
      new Request('http://localhost/auth/csrf', { headers: { 'CF-Connecting-IP': freshIp() } }),
    )
    expect(other.status).toBe(200)
  })

  it('leaves /healthz unlimited', async () => {
    const fetcher = limitedApp()
    const ip = freshIp()
    for (let i = 0; i < 8; i++) {
      const response = await fetcher(
        new Request('http://localhost/healthz', { headers: { 'CF-Connecting-IP': ip } }),
      )
      expect(response.status).toBe(200)
    }
  })

  it('limits nothing without the bindings', async () => {
    const fetcher = appFetch()
    const ip = freshIp()
    for (let i = 0; i < 8; i++) {
      const response = await fetcher(
        new Request('http://localhost/auth/csrf', { headers: { 'CF-Connecting-IP': ip } }),
      )
      expect(response.status).toBe(200)
    }
  })

  it('refuses a period the bindings cannot have, naming the setting', () => {
    expect(() => limitedApp({ USER_RATE_LIMIT_PERIOD: '30' })).toThrow(/USER_RATE_LIMIT_PERIOD/)
  })
})
