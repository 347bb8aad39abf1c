/**
 * The proxy in front of a real local origin (test/gateway/origin.ts): policy, what the origin
 * receives, what the client gets back, and failures.
 */

import { env } from 'cloudflare:workers'
import fc from 'fast-check'
import { describe, expect, inject, it } from 'vitest'
import { createApp } from '../../src/app'
import { loadConfig } from '../../src/config'
import type { Env } from '../../src/env'
import { NEVER_PROXIED_METHODS } from '../../src/gateway'
import { appFetch, Client, hashers } from '../helpers'
import { type Echo, gatewayApp, loggedIn } from './helpers'

async function detail(response: Response): Promise<string> {
  return ((await response.json()) as { detail: string }).detail
}

async function echo(response: Response): Promise<Echo> {
  expect(response.status).toBe(200)
  return (await response.json()) as Echo
}

describe('policy', () => {
  it('answers 401 JSON to an anonymous API call on a protected path', async () => {
    const { fetcher } = await gatewayApp()
    const response = await new Client(fetcher).get('/api/things', {
      headers: { Accept: 'application/json' },
    })
    expect(response.status).toBe(401)
    expect(await detail(response)).toBe('Authentication credentials were not provided.')
  })

  it('redirects (302) an anonymous browser navigation to the sign-in page with next', async () => {
    const { fetcher } = await gatewayApp()
    const response = await new Client(fetcher).get('/reports/2024?sort=desc&q=a b', {
      headers: { Accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8' },
    })
    expect(response.status).toBe(302)
    expect(response.headers.get('Location')).toBe(
      `/auth/login?next=${encodeURIComponent('/reports/2024?sort=desc&q=a%20b')}`,
    )
  })

  it('answers 401, not a redirect, to an anonymous POST that accepts HTML', async () => {
    const { fetcher } = await gatewayApp()
    const response = await new Client(fetcher).post('/api/things', {
      json: {},
      headers: { Accept: 'text/html' },
    })
    expect(response.status).toBe(401)
  })

  it('proxies PUBLIC_PATHS to anonymous visitors without identity headers', async () => {
    const { fetcher } = await gatewayApp({ PUBLIC_PATHS: '/public/**' })
    const seen = await echo(
      await new Client(fetcher).get('/public/a/b.css', { headers: { 'X-Auth-User-Id': '1' } }),
    )
    expect(seen.url).toBe('/public/a/b.css')
    expect(seen.headers['x-auth-user-id']).toBeUndefined()
    expect(seen.headers['x-auth-assertion']).toBeUndefined()
  })

  it('sends a logged-in user’s identity on public paths too', async () => {
    const { fetcher } = await gatewayApp({ PUBLIC_PATHS: '/public/**' })
    const { client, user } = await loggedIn(fetcher)
    const seen = await echo(await client.get('/public/page'))
    expect(seen.headers['x-auth-user-id']).toBe(String(user.id))
    expect(seen.headers['x-auth-username']).toBe(user.username)
    expect(seen.headers['x-auth-assertion']).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
  })

  it('answers 403 to a logged-in non-staff user on STAFF_PATHS, and proxies staff', async () => {
    const { fetcher } = await gatewayApp({ STAFF_PATHS: '/admin/**' })
    const { client } = await loggedIn(fetcher)
    const refused = await client.get('/admin')
    expect(refused.status).toBe(403)
    expect(await detail(refused)).toBe('You do not have permission to perform this action.')
    const { client: staff } = await loggedIn(fetcher, { is_staff: true })
    expect((await echo(await staff.get('/admin/users'))).url).toBe('/admin/users')
  })

  it('answers 403 to encoded and dotted spellings of a staff path', async () => {
    const { fetcher } = await gatewayApp({ STAFF_PATHS: '/admin/**', PUBLIC_PATHS: '/static/**' })
    const { client } = await loggedIn(fetcher)
    for (const path of [
      '/%61dmin/x',
      '//admin/x',
      '/static/..%2Fadmin/x',
      '/static/%2e%2e/admin',
    ]) {
      expect((await client.get(path)).status, path).toBe(403)
    }
  })

  it('never proxies /auth/*, /.well-known/* or /healthz, whatever the method', async () => {
    const { fetcher } = await gatewayApp({ PUBLIC_PATHS: '/**' })
    const client = new Client(fetcher)
    expect((await client.get('/auth/nope')).status).toBe(404)
    expect((await client.get('/.well-known/openid-configuration')).status).toBe(404)
    const health = await client.request('DELETE', '/healthz')
    expect(health.status).toBe(404)
    expect(health.headers.get('X-Origin')).toBeNull()
  })

  it('answers 404 JSON outside /auth when ORIGIN_URL is not set', async () => {
    const response = await new Client(appFetch({ ORIGIN_URL: '' })).get('/api/things')
    expect(response.status).toBe(404)
    expect(await detail(response)).toBe('Not found.')
  })
})

describe('what the origin receives', () => {
  it('keeps the method, path, query and body', async () => {
    const { fetcher } = await gatewayApp()
    const { client } = await loggedIn(fetcher)
    const seen = await echo(
      await client.request('PUT', '/api/items/7?x=1&y=%20', {
        body: 'raw body ✓',
        headers: { 'Content-Type': 'text/plain; charset=utf-8' },
      }),
    )
    expect(seen.method).toBe('PUT')
    expect(seen.url).toBe('/api/items/7?x=1&y=%20')
    expect(seen.body).toBe('raw body ✓')
    expect(seen.headers['content-type']).toBe('text/plain; charset=utf-8')
  })

  it('streams a request body larger than the /auth limit to the origin', async () => {
    const { fetcher } = await gatewayApp()
    const { client } = await loggedIn(fetcher)
    const size = 3 * 1024 * 1024
    const chunk = new Uint8Array(64 * 1024).fill(97)
    let sent = 0
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= size) return controller.close()
        controller.enqueue(chunk)
        sent += chunk.byteLength
      },
    })
    const seen = await echo(
      await client.request('POST', '/upload', {
        body,
        headers: { 'Content-Type': 'application/octet-stream' },
      }),
    )
    expect(seen.bodyBytes).toBe(size)
  })

  it('removes client-sent X-Auth-* headers and sets its own', async () => {
    const { fetcher } = await gatewayApp()
    const { client, user } = await loggedIn(fetcher)
    const seen = await echo(
      await client.get('/api/me', {
        headers: {
          'X-Auth-User-Id': '999',
          'X-Auth-Username': 'root',
          'X-Auth-Assertion': 'forged',
          'X-Auth-Extra': 'spoofed',
        },
      }),
    )
    expect(seen.headers['x-auth-user-id']).toBe(String(user.id))
    expect(seen.headers['x-auth-username']).toBe(user.username)
    expect(seen.headers['x-auth-assertion']).not.toBe('forged')
    expect(seen.headers['x-auth-extra']).toBeUndefined()
  })

  it('removes the session cookie but forwards other cookies', async () => {
    const { fetcher } = await gatewayApp()
    const { client } = await loggedIn(fetcher)
    const session = client.cookies.get('sessionid')
    const seen = await echo(
      await client.get('/api/me', {
        headers: { Cookie: `theme=dark; sessionid=${session}; csrftoken=abc; lang=en` },
      }),
    )
    expect(seen.headers.cookie).toBe('theme=dark; csrftoken=abc; lang=en')
    expect(JSON.stringify(seen)).not.toContain(session as string)
  })

  it('sends no Cookie header when the session cookie was the only one', async () => {
    const { fetcher } = await gatewayApp()
    const { client } = await loggedIn(fetcher)
    client.cookies.delete('csrftoken')
    const seen = await echo(await client.get('/api/me'))
    expect(seen.headers.cookie).toBeUndefined()
  })

  it('honours a renamed session cookie', async () => {
    const { fetcher } = await gatewayApp({ SESSION_COOKIE_NAME: 'gw_session' })
    const { client } = await loggedIn(fetcher)
    const seen = await echo(
      await client.get('/x', {
        headers: { Cookie: `gw_session=${client.cookies.get('gw_session')}; sessionid=other` },
      }),
    )
    expect(seen.headers.cookie).toBe('sessionid=other')
  })

  it('sets X-Forwarded-For from CF-Connecting-IP, and X-Forwarded-Proto and -Host', async () => {
    const { fetcher } = await gatewayApp({ PUBLIC_PATHS: '/**' })
    const client = new Client(fetcher, 'https://gw.example.com')
    const seen = await echo(
      await client.get('/x', {
        headers: {
          'CF-Connecting-IP': '203.0.113.7',
          'X-Forwarded-For': '10.0.0.1',
          'X-Forwarded-Host': 'evil.example',
          'X-Forwarded-Proto': 'http',
          Forwarded: 'for=10.0.0.1',
        },
      }),
    )
    expect(seen.headers['x-forwarded-for']).toBe('203.0.113.7')
    expect(seen.headers['x-forwarded-proto']).toBe('https')
    expect(seen.headers['x-forwarded-host']).toBe('gw.example.com')
    expect(seen.headers.forwarded).toBeUndefined()
    expect(seen.headers['cf-connecting-ip']).toBeUndefined()
  })

  it('removes hop-by-hop headers, and the ones Connection names', async () => {
    const { fetcher } = await gatewayApp({ PUBLIC_PATHS: '/**' })
    const seen = await echo(
      await new Client(fetcher).get('/x', {
        headers: {
          Connection: 'keep-alive, X-Private-Hop',
          'X-Private-Hop': 'secret',
          'Keep-Alive': 'timeout=5',
          'Proxy-Authorization': 'Basic Zm9vOmJhcg==',
          TE: 'trailers',
          Upgrade: 'websocket',
          'X-Kept': 'yes',
        },
      }),
    )
    expect(seen.headers['x-private-hop']).toBeUndefined()
    expect(seen.headers['proxy-authorization']).toBeUndefined()
    expect(seen.headers.upgrade).toBeUndefined()
    expect(seen.headers.te).toBeUndefined()
    expect(seen.headers['x-kept']).toBe('yes')
  })
})

/** Identity and forwarding headers, as origins read their names (lower case, `-`). */
const SPOOFABLE = [
  'x-auth-user-id',
  'x-auth-username',
  'x-auth-assertion',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-real-ip',
  'forwarded',
  'cf-connecting-ip',
  'remote-user',
  'x-remote-user',
  'x-user',
  'x-original-url',
  'x-original-uri',
  'x-rewrite-url',
  'true-client-ip',
  'x-client-ip',
  'x-trusted-proxy-secret',
]

/**
 * Spellings of those names: any letter's case flipped, any `-` written `_`. The exact name
 * `CF-Connecting-IP` is Cloudflare's to set (the edge overwrites a client's), so its spellings
 * always carry a `_`.
 */
const spoofedName = fc
  .tuple(
    fc.constantFrom(...SPOOFABLE),
    fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }),
    fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }),
  )
  .map(([name, flips, underscores]) => {
    const spelled = [...name].map((char, i) => {
      if (char === '-') return underscores[i] ? '_' : '-'
      return flips[i] ? char.toUpperCase() : char
    })
    const text = spelled.join('')
    return name === 'cf-connecting-ip' && !text.includes('_') ? text.replace('-', '_') : text
  })

describe('header spellings (property-based)', () => {
  it('never lets any spelling of an identity or forwarding header reach the origin (200)', async () => {
    const { fetcher } = await gatewayApp({ PUBLIC_PATHS: '/**' })
    const { client, user } = await loggedIn(fetcher)
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(spoofedName, { minLength: 1, maxLength: 5 }),
        async (names) => {
          const headers = Object.fromEntries(names.map((name, i) => [name, `spoof-${i}`]))
          const seen = await echo(await client.get('/api/me', { headers }))
          expect(JSON.stringify(seen.headers), names.join(' ')).not.toContain('spoof')
          expect(seen.headers['x-auth-user-id']).toBe(String(user.id))
        },
      ),
      { numRuns: 200 },
    )
  })

  it('never lets the session cookie reach the origin, however Cookie is split (200)', async () => {
    const { fetcher } = await gatewayApp({ PUBLIC_PATHS: '/**' })
    const { client } = await loggedIn(fetcher)
    const key = client.cookies.get('sessionid') as string
    const sessionName = fc
      .array(fc.constantFrom('same', 'upper', 'escape'), { minLength: 9, maxLength: 9 })
      .map((hows) =>
        [...'sessionid']
          .map((char, i) => {
            if (hows[i] === 'upper') return char.toUpperCase()
            if (hows[i] === 'escape') return `%${char.charCodeAt(0).toString(16)}`
            return char
          })
          .join(''),
      )
    const padding = fc.constantFrom('', ' ', '  ', '\t')
    const sessionCookie = fc
      .tuple(padding, sessionName, padding)
      .map(([before, name, after]) => `${before}${name}${after}=${key}`)
    const arrangement = fc.tuple(
      fc.shuffledSubarray(['theme=dark', '<session>', 'lang=en'], { minLength: 3 }),
      sessionCookie,
      fc.array(fc.constantFrom('; ', ';', ', ', ',', ' ; ', 'new header'), {
        minLength: 2,
        maxLength: 2,
      }),
    )
    await fc.assert(
      fc.asyncProperty(arrangement, async ([order, session, separators]) => {
        const values = ['']
        order.forEach((cookie, i) => {
          const separator = i === 0 ? '' : (separators[i - 1] as string)
          if (separator === 'new header') values.push('')
          else values[values.length - 1] += separator
          values[values.length - 1] += cookie === '<session>' ? session : cookie
        })
        const headers = new Headers()
        for (const value of values) headers.append('Cookie', value)
        const seen = await echo(await fetcher(new Request('http://localhost/x', { headers })))
        expect(JSON.stringify(seen), values.join(' | ')).not.toContain(key)
        expect(seen.headers.cookie).toContain('theme=dark')
        expect(seen.headers.cookie).toContain('lang=en')
      }),
      { numRuns: 200 },
    )
  })
})

describe('TRACE', () => {
  it('answers 405 with Allow to TRACE and never proxies it, on public paths too', async () => {
    const { fetcher } = await gatewayApp({ PUBLIC_PATHS: '/**' })
    const { client } = await loggedIn(fetcher)
    for (const path of ['/x', '/api/me']) {
      const response = await client.request('TRACE', path)
      expect(response.status).toBe(405)
      expect(response.headers.get('Allow')).toBe('GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS')
      expect(response.headers.get('X-Origin')).toBeNull()
      expect(await detail(response)).toBe('Method "TRACE" not allowed.')
    }
    // TRACK (IIS) cannot even be built as a Request in workerd; the proxy refuses it all the same.
    expect(NEVER_PROXIED_METHODS.has('TRACK')).toBe(true)
  })

  it('answers 405 with Allow to TRACE on the /auth endpoints', async () => {
    const { fetcher } = await gatewayApp()
    const response = await new Client(fetcher).request('TRACE', '/auth/login')
    expect(response.status).toBe(405)
    expect(response.headers.get('Allow')).toContain('POST')
  })
})

describe('what the client gets back', () => {
  it('drops origin Set-Cookie for the session and CSRF cookies and keeps the rest', async () => {
    const { fetcher } = await gatewayApp({ PUBLIC_PATHS: '/**' })
    const response = await new Client(fetcher).get('/set-cookies')
    expect(response.status).toBe(200)
    expect(response.headers.getSetCookie()).toEqual([
      'theme=dark; Path=/',
      'lang=fr; Path=/; Max-Age=60',
    ])
  })

  it('keeps the gateway’s own cookies beside the origin’s', async () => {
    const { fetcher } = await gatewayApp()
    const { client } = await loggedIn(fetcher)
    const before = client.cookies.get('sessionid')
    const response = await client.get('/set-cookies')
    expect(response.headers.getSetCookie().some((c) => c.includes('planted'))).toBe(false)
    expect(client.cookies.get('sessionid')).toBe(before)
    expect((await client.get('/auth/me')).status).toBe(200)
  })

  it('passes an origin redirect through without following it', async () => {
    const { fetcher } = await gatewayApp({ PUBLIC_PATHS: '/**' })
    const response = await new Client(fetcher).get('/redirect')
    expect(response.status).toBe(302)
    expect(response.headers.get('Location')).toBe('/elsewhere')
  })

  it('removes hop-by-hop response headers', async () => {
    const { fetcher } = await gatewayApp({ PUBLIC_PATHS: '/**' })
    const response = await new Client(fetcher).get('/hop')
    expect(await response.text()).toBe('hop')
    expect(response.headers.get('X-Origin-Private')).toBeNull()
    expect(response.headers.get('Keep-Alive')).toBeNull()
    expect(response.headers.get('Proxy-Authenticate')).toBeNull()
    expect(response.headers.get('X-Kept')).toBe('yes')
  })

  it('streams the origin’s body and passes statuses without a body', async () => {
    const { fetcher } = await gatewayApp({ PUBLIC_PATHS: '/**' })
    const client = new Client(fetcher)
    expect(await (await client.get('/stream')).text()).toBe('one two three')
    expect((await client.get('/status/204')).status).toBe(204)
    expect((await client.get('/status/404')).status).toBe(404)
    expect((await client.get('/status/503')).status).toBe(503)
  })

  it('passes a gzip-encoded origin response on intact', async () => {
    const { fetcher } = await gatewayApp({ PUBLIC_PATHS: '/**' })
    const response = await new Client(fetcher).get('/gzip', {
      headers: { 'Accept-Encoding': 'gzip' },
    })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ compressed: 'yes'.repeat(100) })
  })

  it('adds Vary: Cookie to an authenticated proxied response', async () => {
    const { fetcher } = await gatewayApp()
    const { client } = await loggedIn(fetcher)
    const response = await client.get('/api/me')
    expect(response.headers.get('Vary')).toContain('Cookie')
  })
})

describe('CSRF on proxied requests', () => {
  it('answers 403 to a session-authenticated POST without the CSRF token', async () => {
    const { fetcher } = await gatewayApp()
    const { client } = await loggedIn(fetcher)
    const response = await client.post('/api/items', { json: { a: 1 }, csrf: false })
    expect(response.status).toBe(403)
    expect(await detail(response)).toBe('CSRF Failed: CSRF token missing.')
  })

  it('answers 403 to a cross-site proxied DELETE, even on a public path', async () => {
    const { fetcher } = await gatewayApp({ PUBLIC_PATHS: '/**' })
    const response = await new Client(fetcher).request('DELETE', '/api/items/1', {
      headers: { Origin: 'https://evil.example' },
    })
    expect(response.status).toBe(403)
    expect(await detail(response)).toContain('Origin checking failed - https://evil.example')
  })

  it('proxies a session-authenticated POST that sends the token', async () => {
    const { fetcher } = await gatewayApp()
    const { client } = await loggedIn(fetcher)
    const seen = await echo(await client.post('/api/items', { json: { a: 1 } }))
    expect(seen.method).toBe('POST')
    expect(seen.body).toBe('{"a":1}')
  })
})

describe('origin failures', () => {
  it('answers 502 "Bad gateway." when the origin is unreachable', async () => {
    const key = (await gatewayApp()).key
    const fetcher = appFetch({
      ORIGIN_URL: inject('deadOriginUrl'),
      ASSERTION_KEYS: JSON.stringify(key),
      PUBLIC_PATHS: '/**',
    })
    const response = await new Client(fetcher).get('/x')
    expect(response.status).toBe(502)
    expect(await detail(response)).toBe('Bad gateway.')
  })

  it('sends a request without a body again when the origin drops the connection unanswered', async () => {
    const { fetcher } = await gatewayApp({ PUBLIC_PATHS: '/**' })
    const client = new Client(fetcher)
    expect((await echo(await client.get('/hangup?key=get'))).method).toBe('GET')
    // A body may already be gone, and a POST may have had its effect: never sent twice.
    const post = await client.post('/hangup?key=post', { json: { n: 1 } })
    expect(post.status).toBe(502)
  })

  it('answers 504 when the origin is slower than ORIGIN_TIMEOUT_MS to answer', async () => {
    const { fetcher } = await gatewayApp({ PUBLIC_PATHS: '/**', ORIGIN_TIMEOUT_MS: '100' })
    // The origin answers after 5 s, the timeout is 0.1 s: a 504 shows the gateway did not wait.
    const response = await new Client(fetcher).get('/slow?ms=5000')
    expect(response.status).toBe(504)
  })

  it('waits for an origin that answers within ORIGIN_TIMEOUT_MS', async () => {
    const { fetcher } = await gatewayApp({ PUBLIC_PATHS: '/**', ORIGIN_TIMEOUT_MS: '2000' })
    expect((await new Client(fetcher).get('/slow?ms=50')).status).toBe(200)
  })
})

/** A binding that records which of its methods are called. */
function counting<T extends object>(binding: T, calls: string[]): T {
  return new Proxy(binding, {
    get(target, property) {
      const value = Reflect.get(target, property)
      if (typeof value !== 'function') return value
      return (...args: unknown[]) => {
        calls.push(String(property))
        return value.apply(target, args)
      }
    },
  })
}

describe('the hot path', () => {
  it('costs one KV read and no D1 query for an authenticated proxied request', async () => {
    const kv: string[] = []
    const db: string[] = []
    const { fetcher } = await gatewayApp({
      SESSIONS: counting(env.SESSIONS, kv),
      DB: counting(env.DB, db),
    })
    const { client } = await loggedIn(fetcher)
    // The first request after login may record last_seen (at most once per 5 minutes).
    await echo(await client.get('/api/warm-up'))
    kv.length = 0
    db.length = 0
    for (const path of ['/api/a', '/api/b?x=1']) await echo(await client.get(path))
    expect(kv).toEqual(['get', 'get'])
    expect(db).toEqual([])
  })
})

describe('start-up', () => {
  it('refuses ORIGIN_URL without ASSERTION_KEYS outside DEBUG, naming ASSERTION_KEYS', () => {
    const bindings = { ...env, ORIGIN_URL: 'http://127.0.0.1:9' } as Env
    expect(() => createApp(loadConfig(bindings), { hashers })).toThrow(/ASSERTION_KEYS/)
  })

  it('runs in DEBUG without ASSERTION_KEYS, with a key for this isolate', async () => {
    const fetcher = appFetch({ ORIGIN_URL: 'http://127.0.0.1:9', DEBUG: 'true' })
    const response = await new Client(fetcher).get('/.well-known/jwks.json')
    const { keys } = (await response.json()) as { keys: { kid: string }[] }
    expect(keys).toHaveLength(1)
    expect(keys[0]?.kid).toMatch(/^ephemeral-/)
  })
})
