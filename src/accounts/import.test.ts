import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, it } from 'vitest'
import { FIXTURE_PASSWORDS } from '../../test/fixtures/django/passwords'
import dump from '../../test/fixtures/django/users.json'
import { Client, createUser, testAccounts, testStore, uniqueName } from '../../test/helpers'
import { SessionIndex } from '../auth/session-index'
import { generatePublicId, generateSessionKey, kvKeyFor } from '../session/key'
import { CLI_ACTOR } from './events'
import { normalizeDatetime, parseDjangoDump } from './import'
import { UserRepository } from './users'

/** What `makePassword` writes today: argon2id with OWASP's parameters. */
const CURRENT_HASH_PREFIX = 'argon2$argon2id$v=19$m=19456,t=2,p=1$'

const users = new UserRepository(env.DB)
const index = new SessionIndex(env.DB)
const store = testStore()
const accounts = testAccounts()

/** alice's password hash, as Django wrote it. */
const DJANGO_HASH = dump[0]?.fields.password as string

let lastPk = 100_000
/**
 * A pk no other user of this file has: counting down from 99,999, while the fixture holds 1-9 and
 * `createUser` (autoincrement: the largest id so far, plus one) gets ids just above 9 until the
 * first of these is inserted, and above 100,000 afterwards.
 */
function nextPk(): number {
  lastPk -= 1
  return lastPk
}

// The fixture first, so that its pks (1-9) are free whichever tests run.
beforeAll(async () => {
  const parsed = parseDjangoDump(dump)
  const result = await accounts.importUsers(parsed.users, {}, CLI_ACTOR)
  expect(result.failed).toEqual([])
})

/** A dump record as `dumpdata auth.user` writes it, with `fields` overridden. */
function record(pk: unknown, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model: 'auth.user',
    pk,
    fields: {
      password: DJANGO_HASH,
      last_login: null,
      is_superuser: false,
      username: uniqueName('dj'),
      first_name: '',
      last_name: '',
      email: '',
      is_staff: false,
      is_active: true,
      date_joined: '2025-01-15T09:30:00Z',
      groups: [],
      user_permissions: [],
      ...fields,
    },
  }
}

/** A session record and its index row for a user, as login writes them. */
async function addSession(userId: number): Promise<string> {
  const now = Date.now()
  const kvKey = await kvKeyFor(generateSessionKey())
  const id = generatePublicId()
  await store.save(kvKey, {
    v: 2,
    id,
    data: { _auth_user_id: String(userId) },
    createdAt: now,
    expiresAt: now + 3_600_000,
  })
  await index
    .upsertStatement({
      id,
      user_id: userId,
      kv_key: kvKey,
      created_at: now,
      last_seen: now,
      expires_at: now + 3_600_000,
      user_agent: 'test',
    })
    .run()
  return kvKey
}

describe('parseDjangoDump', () => {
  it("reads Django 5.2's dumpdata of the nine fixture users with no error", () => {
    const parsed = parseDjangoDump(dump)
    expect(parsed.errors).toEqual([])
    expect(parsed.users.map((user) => [user.id, user.username])).toEqual([
      [1, 'alice'],
      [2, 'bob'],
      [3, 'carol'],
      [4, 'dora'],
      [5, 'erin'],
      [6, 'frank'],
      [7, 'gina'],
      [8, 'hugo'],
      [9, 'root'],
    ])
    expect(parsed.users.find((user) => user.username === 'root')).toMatchObject({
      email: 'root@example.com',
      first_name: 'Root',
      last_name: 'Fixture',
      is_staff: true,
      is_superuser: true,
      is_active: true,
      last_login: null,
      date_joined: '2025-01-15T09:30:00.000Z',
    })
    expect(parsed.users.find((user) => user.username === 'gina')?.is_active).toBe(false)
  })

  it('keeps every password hash exactly as Django wrote it', () => {
    const parsed = parseDjangoDump(dump)
    expect(parsed.users.map((user) => user.password)).toEqual(
      dump.map((item) => item.fields.password),
    )
  })

  it('warns about an unusable password and a hash it cannot verify, and imports both', () => {
    const parsed = parseDjangoDump([
      record(1, { username: 'nopass', password: '!abcdefghijklmnopqrstuvwxyz0123456789ABCD' }),
      record(2, { username: 'bcrypt', password: 'bcrypt_sha256$$2b$12$abcdefghijklmnopqrstuv' }),
    ])
    expect(parsed.errors).toEqual([])
    expect(parsed.users).toHaveLength(2)
    expect(parsed.warnings).toEqual([
      "'nopass' has an unusable password: cannot log in",
      expect.stringMatching(/^'bcrypt' .*cannot verify \(bcrypt_sha256\)/),
    ])
  })

  it('reports each bad record by position, pk and username, and keeps the good ones', () => {
    const parsed = parseDjangoDump([
      record(1, { username: 'good' }),
      'not a record',
      record(-3, { username: 'negative' }),
      record(4, { username: 'has space' }),
      record(5, { username: 'flags', is_staff: 'yes' }),
      record(6, { username: 'when', date_joined: 'last tuesday' }),
      record(7, { username: 'nohash', password: undefined }),
      record(8, { username: 'good' }),
      record(1, { username: 'samepk' }),
      { model: 'auth.user', pk: 10, fields: null },
      record(11, { username: 'x'.repeat(151) }),
      record(12, { username: 'longmail', email: `${'a'.repeat(250)}@example.com` }),
    ])
    expect(parsed.users.map((user) => user.username)).toEqual(['good'])
    expect(parsed.errors).toEqual([
      'record 2: not an object',
      "record 3, pk -3, 'negative': pk must be a positive integer",
      expect.stringMatching(/^record 4, pk 4, 'has space': username: Enter a valid username/),
      "record 5, pk 5, 'flags': is_staff must be true or false",
      "record 6, pk 6, 'when': date_joined is not an ISO 8601 datetime: last tuesday",
      "record 7, pk 7, 'nohash': password must be a string",
      "record 8, pk 8, 'good': username 'good' appears earlier in the file",
      "record 9, pk 1, 'samepk': pk 1 appears earlier in the file",
      'record 10, pk 10: fields must be an object',
      expect.stringMatching(/^record 11, pk 11, 'x+': username: Ensure this field has no more/),
      "record 12, pk 12, 'longmail': email is longer than 254 characters",
    ])
  })

  it('refuses a document that is not an array of records', () => {
    expect(parseDjangoDump({ model: 'auth.user' }).errors).toEqual([
      'expected a JSON array of records, as `manage.py dumpdata auth.user` writes',
    ])
    expect(parseDjangoDump(null).users).toEqual([])
  })

  it('leaves out records of other models with one line naming them', () => {
    const parsed = parseDjangoDump([
      record(1, { username: 'kept' }),
      { model: 'auth.permission', pk: 1, fields: {} },
      { model: 'contenttypes.contenttype', pk: 1, fields: {} },
      { model: 'contenttypes.contenttype', pk: 2, fields: {} },
    ])
    expect(parsed.users.map((user) => user.username)).toEqual(['kept'])
    expect(parsed.errors).toEqual([
      'records of other models left out: auth.permission (1), contenttypes.contenttype (2)',
    ])
  })

  it("reads auth.group records and each user's groups, by pk or natural key", () => {
    const parsed = parseDjangoDump([
      { model: 'auth.group', pk: 1, fields: { name: 'editors', permissions: [] } },
      { model: 'auth.group', pk: 2, fields: { name: 'admins', permissions: [3] } },
      { model: 'auth.group', pk: 3, fields: { name: 'nobody', permissions: [] } },
      record(1, { username: 'bypk', groups: [2, 1] }),
      record(2, { username: 'bykey', groups: [['editors'], ['elsewhere']] }),
      record(3, { username: 'none', groups: [] }),
    ])
    expect(parsed.errors).toEqual([])
    expect(parsed.warnings).toEqual([])
    expect(parsed.groups).toEqual(['admins', 'editors', 'nobody'])
    expect(parsed.users.map((user) => [user.username, user.groups])).toEqual([
      ['bypk', ['admins', 'editors']],
      ['bykey', ['editors', 'elsewhere']],
      ['none', []],
    ])
  })

  it('reads groups written before their records, and warns of a pk the file lacks', () => {
    const parsed = parseDjangoDump([
      record(1, { username: 'early', groups: [5, 9] }),
      { model: 'auth.group', pk: 5, fields: { name: 'late' } },
    ])
    expect(parsed.users[0]?.groups).toEqual(['late'])
    expect(parsed.warnings).toEqual([
      "'early': group pk 9 is not in the file (dump auth.group too): left out",
    ])
  })

  it('reports bad group records and bad group lists', () => {
    const parsed = parseDjangoDump([
      { model: 'auth.group', pk: 1, fields: { name: '' } },
      { model: 'auth.group', pk: 'x', fields: { name: 'ops' } },
      record(3, { username: 'odd', groups: 'ops' }),
      record(4, { username: 'odder', groups: [[1, 2]] }),
    ])
    expect(parsed.errors).toEqual([
      'record 1, pk 1 (auth.group): name: A group name may not be blank.',
      'record 2, pk "x" (auth.group): pk must be a positive integer',
      "record 3, pk 3, 'odd': groups must be a list of group pks or natural keys",
      "record 4, pk 4, 'odder': groups must be a list of group pks or natural keys",
    ])
    expect(parsed.users).toEqual([])
  })

  it("gives Django's defaults to left-out fields and a new id to a record without pk", () => {
    const parsed = parseDjangoDump([
      {
        model: 'auth.user',
        fields: { username: 'natural', password: 'x', date_joined: '2025-01-15T09:30:00Z' },
      },
    ])
    expect(parsed.errors).toEqual([])
    expect(parsed.users).toEqual([
      {
        id: null,
        groups: null,
        username: 'natural',
        password: 'x',
        email: '',
        first_name: '',
        last_name: '',
        is_staff: false,
        is_superuser: false,
        is_active: true,
        last_login: null,
        date_joined: '2025-01-15T09:30:00.000Z',
      },
    ])
  })

  it('warns that permissions are dropped', () => {
    const parsed = parseDjangoDump([record(1, { user_permissions: [4, 5] })])
    expect(parsed.warnings).toEqual([
      '1 user(s) have permissions; sessiongate has none, so they are dropped',
    ])
  })
})

describe('normalizeDatetime', () => {
  it("turns DjangoJSONEncoder's datetimes into the Worker's ISO 8601 UTC text", () => {
    expect(normalizeDatetime('2025-01-15T09:30:00Z')).toBe('2025-01-15T09:30:00.000Z')
    expect(normalizeDatetime('2025-01-15T09:30:00.123Z')).toBe('2025-01-15T09:30:00.123Z')
    expect(normalizeDatetime('2025-01-15T10:30:00.123+01:00')).toBe('2025-01-15T09:30:00.123Z')
    // USE_TZ = False writes naive datetimes: read as UTC.
    expect(normalizeDatetime('2025-01-15T09:30:00.123456')).toBe('2025-01-15T09:30:00.123Z')
    expect(normalizeDatetime('2025-01-15 09:30:00')).toBe('2025-01-15T09:30:00.000Z')
  })

  it('returns null for anything else', () => {
    expect(normalizeDatetime('2025-13-45T99:00:00Z')).toBeNull()
    expect(normalizeDatetime('15/01/2025')).toBeNull()
    expect(normalizeDatetime('')).toBeNull()
  })
})

describe('importUsers', () => {
  it('inserts new users with their Django pk as id', async () => {
    const name = uniqueName('pk')
    const pk = nextPk()
    const { users: parsed } = parseDjangoDump([record(pk, { username: name, email: 'a@b.c' })])
    const result = await accounts.importUsers(parsed, {}, CLI_ACTOR)
    expect(result.created).toEqual([name])
    expect(await users.getById(pk)).toMatchObject({ username: name, email: 'a@b.c', is_active: 1 })
  })

  it('skips users whose username exists, and leaves them as they were', async () => {
    const existing = await createUser()
    const before = await users.getById(existing.id)
    const { users: parsed } = parseDjangoDump([
      record(nextPk(), { username: existing.username, password: 'pbkdf2_sha256$1$x$y' }),
    ])
    const result = await accounts.importUsers(parsed, {}, CLI_ACTOR)
    expect(result).toMatchObject({ created: [], skipped: [existing.username], failed: [] })
    expect(await users.getById(existing.id)).toEqual(before)
  })

  it('with update, overwrites an existing user in place and ends their sessions', async () => {
    const existing = await createUser()
    const kvKey = await addSession(existing.id)
    const pk = nextPk()
    const { users: parsed } = parseDjangoDump([
      record(pk, { username: existing.username, password: 'pbkdf2_sha256$1$x$y', is_staff: true }),
    ])
    const result = await accounts.importUsers(parsed, { update: true }, CLI_ACTOR)
    expect(result).toMatchObject({ updated: [existing.username], sessionsEnded: 1 })
    expect(await users.getById(existing.id)).toMatchObject({
      password: 'pbkdf2_sha256$1$x$y',
      is_staff: 1,
    })
    expect(await users.getById(pk)).toBeNull()
    expect(await env.SESSIONS.get(kvKey)).toBeNull()
  })

  it('with update, leaves a user that matches field for field, and their sessions, alone', async () => {
    const name = uniqueName('same')
    const pk = nextPk()
    const { users: parsed } = parseDjangoDump([record(pk, { username: name })])
    await accounts.importUsers(parsed, {}, CLI_ACTOR)
    const kvKey = await addSession(pk)
    const result = await accounts.importUsers(parsed, { update: true }, CLI_ACTOR)
    expect(result).toMatchObject({ unchanged: [name], updated: [], sessionsEnded: 0 })
    expect(await env.SESSIONS.get(kvKey)).not.toBeNull()
  })

  it('refuses a pk that belongs to another username, and imports the rest', async () => {
    const existing = await createUser()
    const name = uniqueName('taken')
    const other = uniqueName('other')
    const { users: parsed } = parseDjangoDump([
      record(existing.id, { username: name }),
      record(nextPk(), { username: other }),
    ])
    const result = await accounts.importUsers(parsed, {}, CLI_ACTOR)
    expect(result.failed).toEqual([
      `'${name}': pk ${existing.id} already belongs to '${existing.username}'`,
    ])
    expect(result.created).toEqual([other])
    expect(await users.getByUsername(name)).toBeNull()
  })

  it("writes the users' groups, and creates the dump's groups that nobody joins", async () => {
    const [name, other] = [uniqueName('grouped'), uniqueName('grouped')]
    const [editors, lonely] = [uniqueName('editors'), uniqueName('lonely')]
    const parsed = parseDjangoDump([
      { model: 'auth.group', pk: 1, fields: { name: editors } },
      { model: 'auth.group', pk: 2, fields: { name: lonely } },
      record(nextPk(), { username: name, groups: [1] }),
      {
        model: 'auth.user',
        fields: {
          username: other,
          password: 'x',
          groups: [[editors]],
          date_joined: '2025-01-15T00:00',
        },
      },
    ])
    const result = await accounts.importUsers(parsed.users, { groups: parsed.groups }, CLI_ACTOR)
    expect(result).toMatchObject({ created: [name, other], failed: [] })
    expect((await users.getByUsername(name))?.groups).toBe(JSON.stringify([editors]))
    expect((await users.getByUsername(other))?.groups).toBe(JSON.stringify([editors]))
    const { results } = await env.DB.prepare('SELECT name FROM groups WHERE name = ?1')
      .bind(lonely)
      .all()
    expect(results).toHaveLength(1)
  })

  it("with update, replaces a user's groups with the dump's, or keeps them when it has none", async () => {
    const existing = await createUser()
    const row = await users.getById(existing.id)
    if (!row) throw new Error('no user')
    await accounts.setGroup(row, 'old-group', true, CLI_ACTOR)
    const fields = { username: existing.username, password: row.password }
    // A record without `groups` says nothing about them (loaddata leaves them too).
    const silent = parseDjangoDump([record(nextPk(), { ...fields, groups: undefined })])
    expect(silent.users[0]?.groups).toBeNull()
    const kept = await accounts.importUsers(silent.users, { update: true }, CLI_ACTOR)
    expect(kept.updated).toEqual([existing.username])
    expect((await users.getById(existing.id))?.groups).toBe('["old-group"]')
    const replacing = parseDjangoDump([record(nextPk(), { ...fields, groups: [['new-group']] })])
    const replaced = await accounts.importUsers(replacing.users, { update: true }, CLI_ACTOR)
    expect(replaced.updated).toEqual([existing.username])
    expect((await users.getById(existing.id))?.groups).toBe('["new-group"]')
    const again = await accounts.importUsers(replacing.users, { update: true }, CLI_ACTOR)
    expect(again.unchanged).toEqual([existing.username])
  })

  it('gives a record without pk the next free id', async () => {
    const name = uniqueName('auto')
    const { users: parsed } = parseDjangoDump([
      {
        model: 'auth.user',
        fields: { username: name, password: 'x', date_joined: '2025-01-15T00:00' },
      },
    ])
    const result = await accounts.importUsers(parsed, {}, CLI_ACTOR)
    expect(result.created).toEqual([name])
    expect((await users.getByUsername(name))?.id).toBeGreaterThan(0)
  })
})

describe('users imported from Django log in through the Worker', () => {
  const active = ['alice', 'bob', 'carol', 'dora', 'erin', 'hugo', 'root']
  it.each(active)(
    "logs %s in with Django's hash, then stores it upgraded to argon2id",
    async (username) => {
      const before = (await users.getByUsername(username))?.password
      expect(before?.startsWith(CURRENT_HASH_PREFIX)).toBe(false)
      const client = new Client()
      const response = await client.post('/auth/login', {
        json: { username, password: FIXTURE_PASSWORDS[username] },
      })
      expect(response.status).toBe(200)
      const body = (await response.json()) as { user: { id: number; username: string } }
      expect(body.user).toMatchObject({
        id: dump.find((u) => u.fields.username === username)?.pk,
        username,
      })
      const after = await users.getByUsername(username)
      expect(after?.password.startsWith(CURRENT_HASH_PREFIX)).toBe(true)
      expect(after?.last_login).not.toBeNull()
      // The upgraded hash keeps working.
      const again = await new Client().post('/auth/login', {
        json: { username, password: FIXTURE_PASSWORDS[username] },
      })
      expect(again.status).toBe(200)
    },
    30_000,
  )

  it('returns 400 for a wrong password, and keeps the Django hash', async () => {
    // carol's scrypt hash under another name, so this test does not depend on the ones above.
    const name = uniqueName('carol')
    const hash = dump.find((item) => item.fields.username === 'carol')?.fields.password
    const parsed = parseDjangoDump([record(nextPk(), { username: name, password: hash })])
    await accounts.importUsers(parsed.users, {}, CLI_ACTOR)
    const response = await new Client().post('/auth/login', {
      json: { username: name, password: 'scrypt me a river 43' },
    })
    expect(response.status).toBe(400)
    expect(await response.json()).toEqual({ detail: 'Unable to log in with provided credentials.' })
    expect((await users.getByUsername(name))?.password).toBe(hash)
  })

  it('returns 400 for the inactive user, even with the right password', async () => {
    const response = await new Client().post('/auth/login', {
      json: { username: 'gina', password: FIXTURE_PASSWORDS.gina },
    })
    expect(response.status).toBe(400)
    expect(await response.json()).toEqual({ detail: 'Unable to log in with provided credentials.' })
  })

  it('returns 400 for the user with an unusable password', async () => {
    for (const password of ['', '!', dump[5]?.fields.password ?? '']) {
      const response = await new Client().post('/auth/login', {
        json: { username: 'frank', password },
      })
      expect(response.status).toBe(400)
    }
  })
})
