import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { appFetch, Client, createUser, uniqueName } from '../helpers'

let counter = 0
/** A client address no other test in this file uses. */
function freshIp(): string {
  counter += 1
  return `203.0.113.${counter}`
}

type Fetcher = ReturnType<typeof appFetch>

/** One login attempt from a new client (no cookies), from `ip`, with extra headers. */
function attempt(
  fetcher: Fetcher,
  ip: string,
  username: string,
  password: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  return new Client(fetcher).post('/auth/login', {
    json: { username, password },
    headers: { 'CF-Connecting-IP': ip, ...headers },
  })
}

async function failTimes(fetcher: Fetcher, ip: string, username: string, times: number) {
  for (let i = 0; i < times; i++) {
    const response = await attempt(fetcher, ip, username, 'not the password')
    expect(response.status).toBe(400)
  }
}

async function expectThrottled(response: Response, seconds?: number) {
  expect(response.status).toBe(429)
  const retryAfter = Number(response.headers.get('Retry-After'))
  expect(retryAfter).toBeGreaterThan(0)
  if (seconds !== undefined) expect(retryAfter).toBe(seconds)
  expect(await response.json()).toEqual({
    detail: `Request was throttled. Expected available in ${retryAfter} seconds.`,
  })
}

describe('failed-login throttling', () => {
  it('answers the 6th attempt after 5 failures with 429 and Retry-After, even with the right password', async () => {
    const clock = { now: Date.now() }
    const fetcher = appFetch({}, () => clock.now)
    const user = await createUser()
    const ip = freshIp()
    await failTimes(fetcher, ip, user.username, 5)
    const response = await attempt(fetcher, ip, user.username, user.password)
    await expectThrottled(response, 900)
    expect(response.headers.getSetCookie().some((cookie) => cookie.startsWith('sessionid='))).toBe(
      false,
    )
  })

  it('still lets another username log in from the same IP (200)', async () => {
    const fetcher = appFetch()
    const victim = await createUser()
    const other = await createUser()
    const ip = freshIp()
    await failTimes(fetcher, ip, victim.username, 5)
    await expectThrottled(await attempt(fetcher, ip, victim.username, victim.password))
    expect((await attempt(fetcher, ip, other.username, other.password)).status).toBe(200)
  })

  it('lets the user log in again (200) once the 15-minute window has passed', async () => {
    const clock = { now: Date.now() }
    const fetcher = appFetch({}, () => clock.now)
    const user = await createUser()
    const ip = freshIp()
    await failTimes(fetcher, ip, user.username, 5)
    clock.now += 899_000
    await expectThrottled(await attempt(fetcher, ip, user.username, user.password), 1)
    clock.now += 1_000
    expect((await attempt(fetcher, ip, user.username, user.password)).status).toBe(200)
  })

  it('answers 429 per IP across usernames after LOGIN_FAILURE_IP_LIMIT failures', async () => {
    const fetcher = appFetch({ LOGIN_FAILURE_IP_LIMIT: '3' })
    const user = await createUser()
    const ip = freshIp()
    for (const name of ['first', 'second', 'third'])
      await failTimes(fetcher, ip, uniqueName(name), 1)
    await expectThrottled(await attempt(fetcher, ip, user.username, user.password))
    expect((await attempt(fetcher, freshIp(), user.username, user.password)).status).toBe(200)
  })

  it('honours LOGIN_FAILURE_LIMIT (429 after 2 failures when set to 2)', async () => {
    const fetcher = appFetch({ LOGIN_FAILURE_LIMIT: '2' })
    const user = await createUser()
    const ip = freshIp()
    await failTimes(fetcher, ip, user.username, 2)
    await expectThrottled(await attempt(fetcher, ip, user.username, user.password))
  })

  it('ignores X-Forwarded-For: changing it does not reset the count (429)', async () => {
    const fetcher = appFetch()
    const user = await createUser()
    const ip = freshIp()
    for (let i = 0; i < 5; i++) {
      const headers = { 'X-Forwarded-For': `192.0.2.${i + 1}` }
      expect((await attempt(fetcher, ip, user.username, 'wrong', headers)).status).toBe(400)
    }
    const spoofed = { 'X-Forwarded-For': '192.0.2.200', 'X-Real-IP': '192.0.2.201' }
    await expectThrottled(await attempt(fetcher, ip, user.username, user.password, spoofed))
  })

  it('counts per CF-Connecting-IP: another client address is not throttled (200)', async () => {
    const fetcher = appFetch()
    const user = await createUser()
    const ip = freshIp()
    await failTimes(fetcher, ip, user.username, 5)
    await expectThrottled(await attempt(fetcher, ip, user.username, user.password))
    expect((await attempt(fetcher, freshIp(), user.username, user.password)).status).toBe(200)
  })

  it('throttles an unknown username exactly as a known one (no user enumeration)', async () => {
    const clock = { now: Date.now() }
    const fetcher = appFetch({}, () => clock.now)
    const known = await createUser()
    const transcript = async (username: string) => {
      const ip = freshIp()
      const seen: string[] = []
      for (let i = 0; i < 7; i++) {
        const response = await attempt(fetcher, ip, username, 'wrong password')
        seen.push(
          `${response.status} ${response.headers.get('Retry-After')} ${await response.text()}`,
        )
      }
      return seen
    }
    const forKnown = await transcript(known.username)
    const forUnknown = await transcript(uniqueName('nobody'))
    expect(forUnknown).toEqual(forKnown)
    expect(forKnown.slice(5).every((line) => line.startsWith('429 900 '))).toBe(true)
  })

  it('answers only 5 of 20 concurrent wrong guesses with 400 and the other 15 with 429', async () => {
    const fetcher = appFetch()
    const user = await createUser()
    const ip = freshIp()
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => attempt(fetcher, ip, user.username, 'guess')),
    )
    const statuses = responses.map((response) => response.status).sort()
    expect(statuses.filter((status) => status === 400)).toHaveLength(5)
    expect(statuses.filter((status) => status === 429)).toHaveLength(15)
  })

  it('refuses the right password sent last in a burst (429) and leaves no trace of a login', async () => {
    const fetcher = appFetch()
    const user = await createUser()
    const ip = freshIp()
    const wrong = Array.from({ length: 10 }, () => attempt(fetcher, ip, user.username, 'guess'))
    const right = attempt(fetcher, ip, user.username, user.password)
    await Promise.all(wrong)
    const response = await right
    await expectThrottled(response)
    expect(response.headers.getSetCookie().some((cookie) => cookie.startsWith('sessionid='))).toBe(
      false,
    )
    const row = await env.DB.prepare(
      'SELECT last_login, (SELECT count(*) FROM user_sessions WHERE user_id = ?1) AS sessions FROM users WHERE id = ?1',
    )
      .bind(user.id)
      .first<{ last_login: string | null; sessions: number }>()
    expect(row).toEqual({ last_login: null, sessions: 0 })
  })

  it('forgets the failures of a pair after a successful login (200)', async () => {
    const fetcher = appFetch()
    const user = await createUser()
    const ip = freshIp()
    await failTimes(fetcher, ip, user.username, 4)
    expect((await attempt(fetcher, ip, user.username, user.password)).status).toBe(200)
    await failTimes(fetcher, ip, user.username, 4)
    expect((await attempt(fetcher, ip, user.username, user.password)).status).toBe(200)
  })

  it('counts wrong old passwords on /auth/password like failed logins (429)', async () => {
    const fetcher = appFetch()
    const user = await createUser()
    const ip = freshIp()
    const client = new Client(fetcher)
    await client.post('/auth/login', {
      json: { username: user.username, password: user.password },
      headers: { 'CF-Connecting-IP': ip },
    })
    const change = (old: string) =>
      client.post('/auth/password', {
        json: { old_password: old, new_password: 'violet-kettle-orbit-42' },
        headers: { 'CF-Connecting-IP': ip },
      })
    for (let i = 0; i < 5; i++) expect((await change('wrong')).status).toBe(400)
    await expectThrottled(await change(user.password))
    await expectThrottled(await attempt(fetcher, ip, user.username, user.password))
  })
})

describe('behind a trusted proxy (TRUSTED_PROXY_SECRET)', () => {
  const secret = 'trusted-proxy-secret-0123456789-abcdefghij'
  const proxyIp = '127.0.0.1'
  const behindProxy = (client: string, sentSecret = secret) => ({
    'X-Forwarded-For': `10.0.0.1, ${client}`,
    'X-Trusted-Proxy-Secret': sentSecret,
  })

  it('throttles each client behind the proxy on its own, so one cannot lock out another (200)', async () => {
    const fetcher = appFetch({ TRUSTED_PROXY_SECRET: secret })
    const user = await createUser()
    const [attacker, owner] = [freshIp(), freshIp()]
    for (let i = 0; i < 5; i++) {
      const failed = await attempt(fetcher, proxyIp, user.username, 'wrong', behindProxy(attacker))
      expect(failed.status).toBe(400)
    }
    const locked = await attempt(fetcher, proxyIp, user.username, 'wrong', behindProxy(attacker))
    await expectThrottled(locked)
    const ok = await attempt(fetcher, proxyIp, user.username, user.password, behindProxy(owner))
    expect(ok.status).toBe(200)
  })

  it('ignores X-Forwarded-For without the right secret: everyone is the proxy (429)', async () => {
    const fetcher = appFetch({ TRUSTED_PROXY_SECRET: secret })
    const user = await createUser()
    const proxy = freshIp()
    for (let i = 0; i < 5; i++) {
      const wrong = behindProxy(freshIp(), 'not-the-secret-0123456789-abcdefghijklmn')
      expect((await attempt(fetcher, proxy, user.username, 'wrong', wrong)).status).toBe(400)
    }
    const unsent = { 'X-Forwarded-For': freshIp() }
    await expectThrottled(await attempt(fetcher, proxy, user.username, user.password, unsent))
  })
})
