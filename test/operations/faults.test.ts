/**
 * Storage faults: KV and D1 are the real local bindings, wrapped so that chosen methods throw as
 * a failing binding would. Nothing a fault causes may be a 500; logout never reports success
 * while the record exists; an account change takes effect whole or answers 503.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { CLI_ACTOR, createAccounts } from '../../src/accounts'
import { createApp } from '../../src/app'
import { loadConfig } from '../../src/config'
import type { Env } from '../../src/env'
import { recordSigner } from '../../src/session'
import { kvKeyFor } from '../../src/session/key'
import { Client, createUser, hashers, setCookie } from '../helpers'

/** Which binding methods fail, and how many more times (Infinity: until healed). */
type Faults = Map<string, number>

/** `binding` with the methods named in `faults` throwing, as a failing binding does. */
function faulty<T extends object>(binding: T, faults: Faults, prefix: string): T {
  return new Proxy(binding, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver)
      if (typeof value !== 'function') return value
      const name = `${prefix}.${String(property)}`
      return (...args: unknown[]) => {
        const left = faults.get(name) ?? 0
        if (left > 0) {
          faults.set(name, left - 1)
          return Promise.reject(new Error(`${name}: injected failure`))
        }
        const result = value.apply(target, args)
        // Statements made by a faulty D1 fail as it does.
        return property === 'prepare' || property === 'bind'
          ? faulty(result as object, faults, 'D1')
          : result
      }
    },
  })
}

/** An app over the real bindings, wrapped; `faults` arms them. */
function faultyApp() {
  const faults: Faults = new Map()
  const bindings = {
    ...env,
    SESSIONS: faulty(env.SESSIONS, faults, 'KV'),
    DB: faulty(env.DB, faults, 'D1'),
  } as Env
  const app = createApp(loadConfig(bindings), { hashers })
  const fetcher = async (request: Request) => {
    const ctx = createExecutionContext()
    const response = await app.fetch(request, bindings, ctx)
    await waitOnExecutionContext(ctx)
    return response
  }
  return { faults, fetcher }
}

async function expectUnavailable(response: Response) {
  expect(response.status).toBe(503)
  expect(Number(response.headers.get('Retry-After'))).toBeGreaterThan(0)
  expect(await response.json()).toEqual({ detail: 'Service temporarily unavailable.' })
}

describe('storage faults', () => {
  it('answers 503 with Retry-After when KV fails on an authenticated request, never a 500', async () => {
    const { faults, fetcher } = faultyApp()
    const user = await createUser()
    const client = new Client(fetcher)
    await client.login(user.username, user.password)
    faults.set('KV.get', Number.POSITIVE_INFINITY)
    await expectUnavailable(await client.get('/auth/me'))
    faults.clear()
    expect((await client.get('/auth/me')).status).toBe(200)
  })

  it('retries a failed KV read once (200)', async () => {
    const { faults, fetcher } = faultyApp()
    const user = await createUser()
    const client = new Client(fetcher)
    await client.login(user.username, user.password)
    faults.set('KV.get', 1)
    expect((await client.get('/auth/me')).status).toBe(200)
  })

  it('answers 503 when D1 fails during a login, and no session starts', async () => {
    const { faults, fetcher } = faultyApp()
    const user = await createUser()
    const client = new Client(fetcher)
    faults.set('D1.batch', Number.POSITIVE_INFINITY)
    const response = await client.post('/auth/login', {
      json: { username: user.username, password: user.password },
    })
    await expectUnavailable(response)
    expect(client.cookies.has('sessionid')).toBe(false)
  })

  it('answers logout with 503 and keeps the cookie while the record cannot be deleted; a retry logs out', async () => {
    const { faults, fetcher } = faultyApp()
    const user = await createUser()
    const client = new Client(fetcher)
    await client.login(user.username, user.password)
    const key = client.cookies.get('sessionid') as string
    faults.set('KV.delete', Number.POSITIVE_INFINITY)
    const failed = await client.post('/auth/logout')
    await expectUnavailable(failed)
    expect(setCookie(failed, 'sessionid')).toBeUndefined()
    expect(await env.SESSIONS.get(await kvKeyFor(key))).not.toBeNull()
    expect((await client.get('/auth/me')).status).toBe(200)

    faults.clear()
    expect((await client.post('/auth/logout')).status).toBe(200)
    expect(await env.SESSIONS.get(await kvKeyFor(key))).toBeNull()
    const replay = new Client(fetcher)
    replay.cookies.set('sessionid', key)
    expect((await replay.get('/auth/me')).status).toBe(401)
  })

  it('undoes a password change whose other sessions cannot be ended (503): the old password still works', async () => {
    const { faults, fetcher } = faultyApp()
    const user = await createUser()
    const changer = new Client(fetcher)
    await changer.login(user.username, user.password)
    const other = new Client(fetcher)
    await other.login(user.username, user.password)
    faults.set('KV.delete', Number.POSITIVE_INFINITY)
    const response = await changer.post('/auth/password', {
      json: { old_password: user.password, new_password: 'violet-kettle-orbit-42' },
    })
    await expectUnavailable(response)
    faults.clear()
    // Not changed: the old password signs in, the new one does not.
    expect((await new Client(fetcher).login(user.username, user.password)).status).toBe(200)
    const refused = await new Client(fetcher).post('/auth/login', {
      json: { username: user.username, password: 'violet-kettle-orbit-42' },
    })
    expect(refused.status).toBe(400)
    // The session that survived is still indexed, so the next change ends it.
    expect((await other.get('/auth/me')).status).toBe(200)
    const again = await changer.post('/auth/password', {
      json: { old_password: user.password, new_password: 'violet-kettle-orbit-42' },
    })
    expect(again.status).toBe(200)
    expect((await other.get('/auth/me')).status).toBe(401)
  })

  it('ends the sessions it cannot rewrite when a staff flag changes, so none keeps the old flag', async () => {
    const user = await createUser({ is_staff: true })
    const client = new Client()
    await client.login(user.username, user.password)
    const accounts = createAccounts({
      db: env.DB,
      kv: faulty(env.SESSIONS, new Map([['KV.put', 1]]), 'KV'),
      records: recordSigner([env.SECRET_KEY as string]),
      hashers,
      secrets: [env.SECRET_KEY as string],
      now: Date.now,
    })
    const row = await accounts.users.getById(user.id)
    if (!row) throw new Error('no user')
    const { ended, rewritten } = await accounts.setFlags(row, { is_staff: false }, CLI_ACTOR)
    expect({ ended, rewritten }).toEqual({ ended: 1, rewritten: 0 })
    expect((await client.get('/auth/me')).status).toBe(401)
  })
})
