import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { kvKeyFor } from '../../src/session/key'
import { Client, createUser, setCookie } from '../helpers'

describe('GET and PATCH /auth/session', () => {
  it('gives an anonymous visitor no session and no cookie until data is stored', async () => {
    const client = new Client()
    const response = await client.get('/auth/session')
    expect(await response.json()).toEqual({ data: {} })
    expect(setCookie(response, 'sessionid')).toBeUndefined()
    expect((await env.SESSIONS.list()).keys).toHaveLength(0)
  })

  it('creates an anonymous session on the first PATCH and merges later ones', async () => {
    const client = new Client()
    const first = await client.request('PATCH', '/auth/session', {
      json: { data: { theme: 'dark', cart: [1] } },
    })
    expect(first.status).toBe(200)
    expect(client.cookies.get('sessionid')).toMatch(/^[a-z0-9]{32}$/)
    const second = await client.request('PATCH', '/auth/session', {
      json: { data: { cart: [1, 2] } },
    })
    expect(await second.json()).toEqual({ data: { theme: 'dark', cart: [1, 2] } })
    expect(await (await client.get('/auth/session')).json()).toEqual({
      data: { theme: 'dark', cart: [1, 2] },
    })
  })

  it('removes a key set to null, and deletes the record and the cookie when the session becomes empty', async () => {
    const client = new Client()
    await client.request('PATCH', '/auth/session', { json: { data: { theme: 'dark' } } })
    const key = client.cookies.get('sessionid') as string
    const response = await client.request('PATCH', '/auth/session', {
      json: { data: { theme: null } },
    })
    expect(await response.json()).toEqual({ data: {} })
    expect(setCookie(response, 'sessionid')).toContain('Max-Age=0')
    expect(await env.SESSIONS.get(await kvKeyFor(key))).toBeNull()
  })

  it('answers 400 for keys starting with "_" and changes nothing', async () => {
    const user = await createUser()
    const client = new Client()
    await client.login(user.username, user.password)
    const response = await client.request('PATCH', '/auth/session', {
      json: { data: { _auth_user_id: '1', theme: 'x' } },
    })
    expect(response.status).toBe(400)
    expect(await (await client.get('/auth/session')).json()).toEqual({ data: {} })
    expect((await client.get('/auth/me')).status).toBe(200)
  })

  it('answers 400 when data is not an object', async () => {
    for (const data of [null, [1], 'x', 3]) {
      const response = await new Client().request('PATCH', '/auth/session', { json: { data } })
      expect(response.status).toBe(400)
    }
  })

  it('hides Django’s own keys from GET', async () => {
    const user = await createUser()
    const client = new Client()
    await client.login(user.username, user.password)
    expect(await (await client.get('/auth/session')).json()).toEqual({ data: {} })
  })

  it('never adopts a planted key: storing data under one issues a fresh key', async () => {
    const planted = 'p'.repeat(32)
    const client = new Client()
    client.cookies.set('sessionid', planted)
    await client.request('PATCH', '/auth/session', { json: { data: { a: 1 } } })
    const issued = client.cookies.get('sessionid')
    expect(issued).toMatch(/^[a-z0-9]{32}$/)
    expect(issued).not.toBe(planted)
    expect(await env.SESSIONS.get(await kvKeyFor(planted))).toBeNull()
  })

  it('adds Vary: Cookie when the session was used', async () => {
    const response = await new Client().get('/auth/session')
    expect(response.headers.get('Vary')).toContain('Cookie')
  })
})

describe('the 16 KiB cap on session data', () => {
  it('answers 413 to a PATCH that takes the data past 16 KiB, and keeps what was stored', async () => {
    const client = new Client()
    await client.request('PATCH', '/auth/session', { json: { data: { a: 'x'.repeat(9000) } } })
    const response = await client.request('PATCH', '/auth/session', {
      json: { data: { b: 'y'.repeat(9000) } },
    })
    expect(response.status).toBe(413)
    expect(await response.json()).toEqual({ detail: 'Session data exceeds 16384 bytes.' })
    const kept = (await (await client.get('/auth/session')).json()) as { data: object }
    expect(Object.keys(kept.data)).toEqual(['a'])
  })

  it('counts bytes, not characters: 11,000 characters of 17,000 bytes are too many (413)', async () => {
    const client = new Client()
    await client.request('PATCH', '/auth/session', { json: { data: { a: 'x'.repeat(8000) } } })
    const response = await client.request('PATCH', '/auth/session', {
      json: { data: { euros: '€'.repeat(3000) } },
    })
    expect(response.status).toBe(413)
    expect(await response.json()).toEqual({ detail: 'Session data exceeds 16384 bytes.' })
  })
})
