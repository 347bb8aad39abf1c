/**
 * Groups through the accounts service: a user joins a group (created on first use) or leaves it,
 * live sessions see it at once (USER, the snapshot, the assertion's claim), the change is in the
 * audit log, and a change whose sessions cannot follow is undone with a 503.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { CLI_ACTOR, createAccounts } from '../../src/accounts'
import { groupNameProblem } from '../../src/accounts/groups'
import { ApiError } from '../../src/errors'
import { recordSigner } from '../../src/session'
import { kvKeyFor } from '../../src/session/key'
import { Client, createUser, hashers, storedRecord, testAccounts, uniqueName } from '../helpers'

async function rowOf(id: number) {
  const row = await testAccounts().users.getById(id)
  if (!row) throw new Error('no user')
  return row
}

async function meGroups(client: Client): Promise<string[]> {
  const response = await client.get('/auth/me')
  expect(response.status).toBe(200)
  return ((await response.json()) as { user: { groups: string[] } }).user.groups
}

async function groupRows(name: string) {
  const { results } = await env.DB.prepare('SELECT id FROM groups WHERE name = ?1').bind(name).all()
  return results
}

describe('Accounts.setGroup', () => {
  it('adds a user to a new group, creating it once, and live sessions see it at once', async () => {
    const user = await createUser()
    const [first, second] = [new Client(), new Client()]
    await first.login(user.username, user.password)
    await second.login(user.username, user.password)
    const group = uniqueName('editors')
    const applied = await testAccounts().setGroup(await rowOf(user.id), group, true, CLI_ACTOR)
    expect(applied).toMatchObject({ rewritten: 2, ended: 0 })
    expect(JSON.parse(applied.user?.groups ?? '[]')).toEqual([group])
    expect(await meGroups(first)).toEqual([group])
    expect(await meGroups(second)).toEqual([group])
    // A second member joins the same group row.
    const other = await createUser()
    await testAccounts().setGroup(await rowOf(other.id), group, true, CLI_ACTOR)
    expect(await groupRows(group)).toHaveLength(1)
  })

  it('keeps group names sorted in USER and removes one, leaving the group', async () => {
    const user = await createUser()
    const client = new Client()
    await client.login(user.username, user.password)
    const accounts = testAccounts()
    for (const group of ['zeta', 'alpha', 'mid']) {
      await accounts.setGroup(await rowOf(user.id), group, true, CLI_ACTOR)
    }
    expect(await meGroups(client)).toEqual(['alpha', 'mid', 'zeta'])
    await accounts.setGroup(await rowOf(user.id), 'mid', false, CLI_ACTOR)
    expect(await meGroups(client)).toEqual(['alpha', 'zeta'])
    const key = client.cookies.get('sessionid') as string
    expect((await storedRecord(await kvKeyFor(key)))?.user?.groups).toEqual(['alpha', 'zeta'])
    expect(await groupRows('mid')).toHaveLength(1)
  })

  it('records user_changed with the group, and nothing when the user is already in it', async () => {
    const user = await createUser()
    const accounts = testAccounts()
    await accounts.setGroup(await rowOf(user.id), 'ops', true, CLI_ACTOR)
    const same = await accounts.setGroup(await rowOf(user.id), 'ops', true, CLI_ACTOR)
    expect(same).toMatchObject({ rewritten: 0, ended: 0 })
    await accounts.setGroup(await rowOf(user.id), 'ops', false, CLI_ACTOR)
    const events = await accounts.events.latest(10, user.username)
    expect(events.map((event) => [event.type, JSON.parse(event.detail)])).toEqual([
      ['user_changed', { group_removed: 'ops' }],
      ['user_changed', { group_added: 'ops' }],
    ])
  })

  it('refuses a bad group name (400) and writes nothing', async () => {
    const user = await createUser()
    for (const name of ['', ' ops', 'a'.repeat(151), 'tab\there']) {
      const refusal = testAccounts().setGroup(await rowOf(user.id), name, true, CLI_ACTOR)
      await expect(refusal).rejects.toMatchObject({ status: 400 })
    }
    expect(JSON.parse((await rowOf(user.id)).groups)).toEqual([])
  })

  it('ends the sessions it cannot rewrite, so none keeps the old groups', async () => {
    const user = await createUser()
    const client = new Client()
    await client.login(user.username, user.password)
    const failingPut = new Proxy(env.SESSIONS, {
      get(target, property, receiver) {
        if (property === 'put') return () => Promise.reject(new Error('KV.put: injected failure'))
        const value = Reflect.get(target, property, receiver)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
    const accounts = createAccounts({
      db: env.DB,
      kv: failingPut,
      records: recordSigner([env.SECRET_KEY as string]),
      hashers,
      secrets: [env.SECRET_KEY as string],
      now: Date.now,
    })
    const applied = await accounts.setGroup(await rowOf(user.id), 'ops', true, CLI_ACTOR)
    expect(applied).toMatchObject({ rewritten: 0, ended: 1 })
    expect((await client.get('/auth/me')).status).toBe(401)
  })

  it('undoes the membership with a 503 when the sessions can neither follow nor end', async () => {
    const user = await createUser()
    const client = new Client()
    await client.login(user.username, user.password)
    const failingKv = new Proxy(env.SESSIONS, {
      get(target, property, receiver) {
        if (property === 'put' || property === 'delete') {
          return () => Promise.reject(new Error('KV: injected failure'))
        }
        const value = Reflect.get(target, property, receiver)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })
    const accounts = createAccounts({
      db: env.DB,
      kv: failingKv,
      records: recordSigner([env.SECRET_KEY as string]),
      hashers,
      secrets: [env.SECRET_KEY as string],
      now: Date.now,
    })
    const change = accounts.setGroup(await rowOf(user.id), 'ops', true, CLI_ACTOR)
    await expect(change).rejects.toBeInstanceOf(ApiError)
    await expect(change).rejects.toMatchObject({ status: 503 })
    expect(JSON.parse((await rowOf(user.id)).groups)).toEqual([])
    expect(await meGroups(client)).toEqual([])
  })
})

describe('groupNameProblem', () => {
  it("takes Django's 1 to 150 characters, without surrounding spaces or controls", () => {
    expect(groupNameProblem('Site editors')).toBeNull()
    expect(groupNameProblem('é'.repeat(150))).toBeNull()
    expect(groupNameProblem('')).toBe('A group name may not be blank.')
    expect(groupNameProblem('x'.repeat(151))).toMatch(/150 characters/)
    expect(groupNameProblem('ops ')).toMatch(/spaces/)
    expect(groupNameProblem('a\nb')).toMatch(/control/)
  })
})
