/**
 * `npm run user -- passwd | deactivate | activate | end-sessions | delete | staff | superuser |
 * group | list`, black-box, with write-through revocation checked in the local KV and D1 that a running
 * `npm run dev` would read: the test holds them open through getPlatformProxy meanwhile.
 */
import { describe, expect, it } from 'vitest'
import { loadHashers } from '../../scripts/cli/hashers'
import { toSnapshot } from '../../src/accounts/users'
import { LoginThrottle } from '../../src/throttle'
import { TEST_SECRET, useLocalState } from './helpers'

const PASSWORD = 'secret pass phrase 1'
const suite = useLocalState()

describe('passwd', () => {
  it('stores the new password and ends every session: KV records and index rows', async () => {
    const { id, username } = await suite.local.seedUser(suite.name('pw'))
    const bystander = await suite.local.seedUser(suite.name('by'))
    const first = await suite.local.addSession(id)
    const second = await suite.local.addSession(id)
    const kept = await suite.local.addSession(bystander.id)
    const result = await suite.user(['passwd', username], 'another pass phrase 2\n')
    expect(result).toMatchObject({
      code: 0,
      stdout: '',
      stderr: `Password changed successfully for user '${username}'; 2 sessions ended.\n`,
    })
    expect(await suite.local.kv.get(first)).toBeNull()
    expect(await suite.local.kv.get(second)).toBeNull()
    expect(await suite.local.index.listForUser(id, Date.now())).toEqual([])
    // Another user's sessions are left alone.
    expect(await suite.local.kv.get(kept)).not.toBeNull()
    const stored = (await suite.local.users.getById(id))?.password ?? null
    const hashers = await loadHashers()
    expect((await hashers.checkPassword('another pass phrase 2', stored)).valid).toBe(true)
  })

  it('refuses a password too similar to the username, and keeps the old one', async () => {
    const { id, username, password } = await suite.local.seedUser(suite.name('similarname'))
    const result = await suite.user(['passwd', username], `${username}\n`)
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/^The password is too similar to the username\./)
    expect((await suite.local.users.getById(id))?.password).toBe(password)
  })

  it('exits 1 for a missing user', async () => {
    const result = await suite.user(['passwd', 'nobody-here'], `${PASSWORD}\n`)
    expect(result).toMatchObject({ code: 1, stderr: "Error: User 'nobody-here' does not exist.\n" })
  })
})

describe('deactivate, activate, end-sessions, delete', () => {
  it('deactivate sets is_active off and ends every session; activate sets it on', async () => {
    const { id, username } = await suite.local.seedUser(suite.name('off'))
    const kvKey = await suite.local.addSession(id)
    const result = await suite.user(['deactivate', username])
    expect(result).toMatchObject({
      code: 0,
      stderr: `User '${username}' deactivated; 1 session ended.\n`,
    })
    expect(await suite.local.kv.get(kvKey)).toBeNull()
    expect(await suite.local.index.listForUser(id, Date.now())).toEqual([])
    expect((await suite.local.users.getById(id))?.is_active).toBe(0)
    const activate = await suite.user(['activate', username])
    expect(activate).toMatchObject({ code: 0, stderr: `User '${username}' activated.\n` })
    expect((await suite.local.users.getById(id))?.is_active).toBe(1)
  })

  it('verify-email marks the e-mail verified, once', async () => {
    const { id, username } = await suite.local.seedUser(suite.name('mail'))
    const result = await suite.user(['verify-email', username])
    expect(result).toMatchObject({
      code: 0,
      stderr: `The e-mail of '${username}' is verified.\n`,
    })
    expect((await suite.local.users.getById(id))?.email_verified).toBe(1)
    const again = await suite.user(['verify-email', username])
    expect(again.stderr).toBe(`The e-mail of '${username}' is already verified.\n`)
  })

  it('end-sessions ends every session and keeps the user', async () => {
    const { id, username } = await suite.local.seedUser(suite.name('end'))
    const keys = [
      await suite.local.addSession(id),
      await suite.local.addSession(id),
      await suite.local.addSession(id),
    ]
    const result = await suite.user(['end-sessions', username])
    expect(result).toMatchObject({ code: 0, stderr: `3 sessions of '${username}' ended.\n` })
    for (const key of keys) expect(await suite.local.kv.get(key)).toBeNull()
    expect(await suite.local.users.getById(id)).not.toBeNull()
  })

  it('delete ends the sessions and deletes the user (piped: no question)', async () => {
    const { id, username } = await suite.local.seedUser(suite.name('gone'))
    const kvKey = await suite.local.addSession(id)
    const result = await suite.user(['delete', username])
    expect(result).toMatchObject({
      code: 0,
      stderr: `User '${username}' deleted; 1 session ended.\n`,
    })
    expect(await suite.local.kv.get(kvKey)).toBeNull()
    expect(await suite.local.users.getById(id)).toBeNull()
  })
})

describe('staff and superuser', () => {
  it('rewrites live snapshots, signed with SECRET_KEY: sessions see the flag at once', async () => {
    const row = await suite.local.seedUser(suite.name('staff'))
    const kvKey = await suite.local.addSession(row.id, toSnapshot(row))
    const result = await suite.user(['staff', row.username, 'on'], undefined, {
      SECRET_KEY: TEST_SECRET,
    })
    expect(result).toMatchObject({
      code: 0,
      stderr:
        `User '${row.username}' is now staff; 1 live session updated ` +
        '(signed with SECRET_KEY from the environment).\n',
    })
    // Read back through a store sealing with TEST_SECRET: the rewrite sealed it as the Worker does.
    const record = await suite.local.store.load(kvKey)
    expect(record?.user?.is_staff).toBe(true)
    expect((await suite.local.users.getById(row.id))?.is_staff).toBe(1)
  })

  it('ends the sessions instead, and says so, when no SECRET_KEY is known', async () => {
    const { id, username } = await suite.local.seedUser(suite.name('super'))
    const kvKey = await suite.local.addSession(id)
    const result = await suite.user(['superuser', username, 'on'])
    expect(result.code).toBe(0)
    expect(result.stderr).toMatch(/is now a superuser\. No SECRET_KEY .* 1 session ended\.\n$/)
    expect(await suite.local.kv.get(kvKey)).toBeNull()
    expect(await suite.local.users.getById(id)).toMatchObject({ is_superuser: 1, is_staff: 0 })
  })

  it('exits 2 for a state other than on or off', async () => {
    const result = await suite.user(['staff', 'whoever', 'yes'])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(
      /^Error: expected 'on' or 'off', not 'yes'\n\nUsage: npm run user -- staff/,
    )
  })
})

describe('group', () => {
  it('adds a user to a group and rewrites live snapshots, signed with SECRET_KEY', async () => {
    const row = await suite.local.seedUser(suite.name('grp'))
    const kvKey = await suite.local.addSession(row.id, toSnapshot(row))
    const result = await suite.user(['group', row.username, 'add', 'ops'], undefined, {
      SECRET_KEY: TEST_SECRET,
    })
    expect(result).toMatchObject({
      code: 0,
      stderr:
        `User '${row.username}' added to group 'ops'; 1 live session updated ` +
        '(signed with SECRET_KEY from the environment).\n',
    })
    expect((await suite.local.store.load(kvKey))?.user?.groups).toEqual(['ops'])
    expect((await suite.local.users.getById(row.id))?.groups).toBe('["ops"]')
    const again = await suite.user(['group', row.username, 'add', 'ops'])
    expect(again).toMatchObject({
      code: 0,
      stderr: `User '${row.username}' is already in group 'ops'.\n`,
    })
  })

  it('removes a user from a group, ending the sessions when no SECRET_KEY is known', async () => {
    const row = await suite.local.seedUser(suite.name('ungrp'))
    expect((await suite.user(['group', row.username, 'add', 'ops'])).code).toBe(0)
    const kvKey = await suite.local.addSession(row.id)
    const result = await suite.user(['group', row.username, 'remove', 'ops'])
    expect(result.code).toBe(0)
    expect(result.stderr).toMatch(
      /removed from group 'ops'\. No SECRET_KEY .* 1 session ended\.\n$/,
    )
    expect(await suite.local.kv.get(kvKey)).toBeNull()
    expect((await suite.local.users.getById(row.id))?.groups).toBe('[]')
    const events = await suite.user(['events', row.username, '--json'])
    const [latest] = JSON.parse(events.stdout) as { type: string; detail: object }[]
    expect(latest).toMatchObject({ type: 'user_changed', detail: { group_removed: 'ops' } })
  })

  it('exits 2 for an action other than add or remove, 1 for a bad group name', async () => {
    const usage = await suite.user(['group', 'whoever', 'join', 'ops'])
    expect(usage.code).toBe(2)
    expect(usage.stderr).toMatch(/^Error: expected 'add' or 'remove', not 'join'\n/)
    const row = await suite.local.seedUser(suite.name('badgrp'))
    const bad = await suite.user(['group', row.username, 'add', ' ops'])
    expect(bad).toMatchObject({
      code: 1,
      stderr: 'Error: A group name may not start or end with spaces.\n',
    })
  })
})

describe('list', () => {
  it('prints a table on stdout with the live session count of each user', async () => {
    const { id, username } = await suite.local.seedUser(suite.name('listed'), {
      email: 'l@example.com',
      is_staff: true,
    })
    await suite.local.addSession(id)
    await suite.local.addSession(id)
    const result = await suite.user(['list'])
    expect(result.code).toBe(0)
    const lines = result.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(
      /^id +username +email +staff +superuser +active +last_login +sessions +groups$/,
    )
    expect(lines[1]).toMatch(/^-+( +-+){8}$/)
    const row = lines.find((line) => line.split(/ +/)[1] === username)
    expect(row?.split(/ +/)).toEqual([
      String(id),
      username,
      'l@example.com',
      'yes',
      'no',
      'yes',
      '-',
      '2',
      '-',
    ])
  })

  it("shows each user's groups, in the table and as JSON", async () => {
    const { username } = await suite.local.seedUser(suite.name('member'))
    expect((await suite.user(['group', username, 'add', 'ops'])).code).toBe(0)
    expect((await suite.user(['group', username, 'add', 'billing'])).code).toBe(0)
    const table = await suite.user(['list'])
    const row = table.stdout.split('\n').find((line) => line.split(/ +/)[1] === username)
    expect(row?.split(/ +/).at(-1)).toBe('billing,ops')
    const json = JSON.parse((await suite.user(['list', '--json'])).stdout) as {
      username: string
      groups: string[]
    }[]
    expect(json.find((listed) => listed.username === username)?.groups).toEqual(['billing', 'ops'])
  })

  it('prints JSON with --json, never a password hash', async () => {
    const { username } = await suite.local.seedUser(suite.name('json'))
    const result = await suite.user(['list', '--json'])
    const users = JSON.parse(result.stdout) as { username: string; sessions: number }[]
    expect(users.find((listed) => listed.username === username)).toMatchObject({
      is_active: true,
      sessions: 0,
    })
    expect(result.stdout).not.toContain('argon2')
  })
})

describe('events and unlock', () => {
  it('events shows what the CLI changed, newest first, as a table or JSON, for one user', async () => {
    const { username } = await suite.local.seedUser(suite.name('audited'))
    expect((await suite.user(['staff', username, 'on'])).code).toBe(0)
    expect((await suite.user(['deactivate', username])).code).toBe(0)
    const table = await suite.user(['events', username])
    expect(table.code).toBe(0)
    const lines = table.stdout.trim().split('\n')
    expect(lines[0]).toMatch(/^id\s+at\s+type\s+username\s+ip\s+detail$/)
    expect(lines[2]).toContain('user_deactivated')
    expect(lines[3]).toContain('user_changed')
    const json = await suite.user(['events', username, '--json', '--limit', '1'])
    const events = JSON.parse(json.stdout) as { type: string; username: string; detail: object }[]
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({
      type: 'user_deactivated',
      username,
      detail: { is_active: false },
    })
  })

  it('unlock clears the login throttle of a username (exit 0)', async () => {
    const { username } = await suite.local.seedUser(suite.name('locked'))
    const throttle = new LoginThrottle(suite.local.db)
    for (const ip of ['192.0.2.1', '192.0.2.2']) {
      await (await throttle.attempt(ip, username)).recordFailure()
    }
    const result = await suite.user(['unlock', username])
    expect(result).toMatchObject({
      code: 0,
      stderr: `Login throttle of '${username}' cleared (2 networks).\n`,
    })
  })

  it('exits 2 for a bad --limit', async () => {
    expect((await suite.user(['events', '--limit', 'lots'])).code).toBe(2)
  })
})
