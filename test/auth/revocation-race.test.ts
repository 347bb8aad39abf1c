/**
 * A request that read a session before a revocation ran, and writes the session back after it
 * (a data change, the sliding refresh, a login landing mid-way), must not bring the session back:
 * `confirmSaved` runs after every write of an authenticated record and deletes a record that no
 * longer holds. Each test replays the late write exactly: the record as it was read goes back into
 * KV after the revocation, then the confirmation the session middleware would run.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { CLI_ACTOR } from '../../src/accounts'
import { confirmSaved } from '../../src/auth'
import { kvKeyFor } from '../../src/session/key'
import type { SessionRecord } from '../../src/session/record'
import { Client, createUser, storedRecord, testAccounts } from '../helpers'

const accounts = testAccounts()

interface Held {
  client: Client
  kvKey: string
  /** The record as a request holding the session read it. */
  record: SessionRecord
}

/** A logged-in client, and its session's record as read now. */
async function hold(user: { username: string; password: string }): Promise<Held> {
  const client = new Client()
  await client.login(user.username, user.password)
  const kvKey = await kvKeyFor(client.cookies.get('sessionid') as string)
  const record = await storedRecord(kvKey)
  if (!record) throw new Error('no record for the new session')
  return { client, kvKey, record }
}

/**
 * The late write: the held record goes back into KV, then the middleware's confirmation (without
 * its one-second wait, which only spaces KV writes to one key in production).
 */
async function writeBack(held: Held): Promise<void> {
  await accounts.store.save(held.kvKey, held.record)
  await confirmSaved(accounts, held.kvKey, held.record, 0)
}

async function meStatus(client: Client): Promise<number> {
  return (await client.get('/auth/me')).status
}

describe('a session written back after a revocation', () => {
  it('stays ended after "log out everywhere": record deleted, 401', async () => {
    const user = await createUser()
    const other = await hold(user)
    const leaving = new Client()
    await leaving.login(user.username, user.password)
    expect((await leaving.post('/auth/logout?everywhere=1')).status).toBe(200)

    await writeBack(other)
    expect(await env.SESSIONS.get(other.kvKey)).toBeNull()
    expect(await meStatus(other.client)).toBe(401)
  })

  it('stays ended after a password change elsewhere: record deleted, 401', async () => {
    const user = await createUser()
    const other = await hold(user)
    const changer = new Client()
    await changer.login(user.username, user.password)
    const changed = await changer.post('/auth/password', {
      json: { old_password: user.password, new_password: 'violet-kettle-orbit-42' },
    })
    expect(changed.status).toBe(200)

    await writeBack(other)
    expect(await env.SESSIONS.get(other.kvKey)).toBeNull()
    expect(await meStatus(other.client)).toBe(401)
    expect(await meStatus(changer)).toBe(200)
  })

  it('does not bring back a revoked is_staff: record deleted, 401', async () => {
    const user = await createUser({ is_staff: true })
    const held = await hold(user)
    const row = await accounts.users.getById(held.record.user?.id ?? 0)
    if (!row) throw new Error('no user')
    await accounts.setFlags(row, { is_staff: false }, CLI_ACTOR)

    await writeBack(held)
    expect(await env.SESSIONS.get(held.kvKey)).toBeNull()
    expect(await meStatus(held.client)).toBe(401)
  })

  it('keeps a session nothing revoked, even after a login elsewhere moved last_login (200)', async () => {
    const user = await createUser()
    const held = await hold(user)
    await new Client().login(user.username, user.password)

    await writeBack(held)
    expect(await env.SESSIONS.get(held.kvKey)).not.toBeNull()
    const response = await held.client.get('/auth/me')
    expect(response.status).toBe(200)
    expect(((await response.json()) as { user: { username: string } }).user.username).toBe(
      user.username,
    )
  })

  it('keeps a session through its own writes: PATCH /auth/session, then 200', async () => {
    const user = await createUser()
    const client = new Client()
    await client.login(user.username, user.password)
    const patched = await client.request('PATCH', '/auth/session', {
      json: { data: { theme: 'dark' } },
    })
    expect(patched.status).toBe(200)
    expect(await meStatus(client)).toBe(200)
  })
})
