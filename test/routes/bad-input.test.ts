import { createExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import worker from '../../src/index'
import { appFetch, Client, createUser } from '../helpers'

async function detail(response: Response) {
  return ((await response.json()) as { detail: string }).detail
}

describe('bad input on /auth/*', () => {
  it('answers malformed JSON with 400 "JSON parse error - ..."', async () => {
    const response = await new Client().post('/auth/login', {
      body: '{"username": ',
      headers: { 'Content-Type': 'application/json' },
    })
    expect(response.status).toBe(400)
    expect(await detail(response)).toMatch(/^JSON parse error - /)
  })

  it('answers a body that is not valid UTF-8 with 400', async () => {
    const response = await new Client().post('/auth/login', {
      body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
      headers: { 'Content-Type': 'application/json' },
    })
    expect(response.status).toBe(400)
  })

  it('answers a JSON value that is not an object with 400', async () => {
    for (const body of ['[]', '"text"', '42', 'null']) {
      const response = await new Client().post('/auth/login', {
        body,
        headers: { 'Content-Type': 'application/json' },
      })
      expect(response.status).toBe(400)
      expect(await detail(response)).toMatch(/^Invalid data. Expected a dictionary, but got /)
    }
  })

  it('answers a body type other than JSON or form with 415', async () => {
    const response = await new Client().post('/auth/login', {
      body: 'username=a',
      headers: { 'Content-Type': 'text/plain' },
    })
    expect(response.status).toBe(415)
    expect(await detail(response)).toBe('Unsupported media type "text/plain" in request.')
  })

  it('answers a body over 16 KiB with 413, declared or not', async () => {
    const big = JSON.stringify({ username: 'x'.repeat(17 * 1024), password: 'y' })
    const declared = await new Client().post('/auth/login', { json: JSON.parse(big) })
    expect(declared.status).toBe(413)
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big))
        controller.close()
      },
    })
    const chunked = await new Client().post('/auth/login', {
      body: stream,
      headers: { 'Content-Type': 'application/json' },
    })
    expect(chunked.status).toBe(413)
  })

  it('answers a wrong method with 405 and Allow', async () => {
    const response = await new Client().request('DELETE', '/auth/me')
    expect(response.status).toBe(405)
    expect(response.headers.get('Allow')).toBe('GET, HEAD, OPTIONS')
    expect(await detail(response)).toBe('Method "DELETE" not allowed.')
    const login = await new Client().request('PUT', '/auth/login', { json: {} })
    expect(login.status).toBe(405)
    expect(login.headers.get('Allow')).toContain('POST')
  })

  it('answers OPTIONS with 204 and Allow', async () => {
    const response = await new Client().request('OPTIONS', '/auth/session')
    expect(response.status).toBe(204)
    expect(response.headers.get('Allow')).toBe('GET, PATCH, HEAD, OPTIONS')
  })

  it('answers an unknown /auth path with 404 JSON', async () => {
    const response = await new Client().get('/auth/nothing-here')
    expect(response.status).toBe(404)
    expect(await detail(response)).toBe('Not found.')
    expect(response.headers.get('Cache-Control')).toBe('no-store')
  })

  it('answers NUL bytes and odd unicode in credentials with 400, not 500', async () => {
    for (const username of ['a\u0000b', '\u{1F600}', '\uD800', 'x'.repeat(10_000)]) {
      const response = await new Client().post('/auth/login', {
        json: { username, password: 'p\u0000w' },
      })
      expect(response.status).toBe(400)
    }
  })

  it('answers a password over 4,096 characters as a failed login, without hashing it', async () => {
    const user = await createUser()
    const response = await new Client().post('/auth/login', {
      json: { username: user.username, password: 'x'.repeat(4097) },
    })
    expect(response.status).toBe(400)
    expect(await detail(response)).toBe('Unable to log in with provided credentials.')
  })
})

describe('GET /healthz', () => {
  it('answers 200 {"status": "ok"}', async () => {
    const response = await new Client().get('/healthz')
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ status: 'ok' })
  })
})

describe('ALLOWED_HOSTS', () => {
  it('answers 400 "Invalid HTTP_HOST header." for a host not listed, before any session work', async () => {
    const fetcher = appFetch({ ALLOWED_HOSTS: 'gateway.example.com,.example.org' })
    const foreign = await new Client(fetcher, 'http://evil.example.net').get('/auth/me')
    expect(foreign.status).toBe(400)
    expect(await foreign.json()).toEqual({ detail: 'Invalid HTTP_HOST header.' })
    expect((await new Client(fetcher, 'http://gateway.example.com').get('/healthz')).status).toBe(
      200,
    )
    expect((await new Client(fetcher, 'http://a.example.org:8443').get('/auth/me')).status).toBe(
      401,
    )
  })
})

describe('configuration errors', () => {
  it('answers every request, not only the first, with the 500 naming the setting', async () => {
    const broken = { ...env, SESSION_COOKIE_AGE: 'two weeks' }
    for (let i = 0; i < 3; i++) {
      const response = await worker.fetch(
        new Request('http://localhost/healthz') as Request<unknown, IncomingRequestCfProperties>,
        broken,
        createExecutionContext(),
      )
      expect(response.status).toBe(500)
      expect(await response.json()).toEqual({
        detail:
          'Improperly configured: SESSION_COOKIE_AGE must be a whole number of at least 1, not "two weeks".',
      })
    }
  })
})
