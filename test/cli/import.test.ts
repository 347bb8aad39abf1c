/**
 * `npm run user -- import`, black-box, on Django 5.2's dumpdata of test/fixtures/django. That
 * these users then log in through the Worker is tested inside workerd: src/accounts/import.test.ts.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import dump from '../fixtures/django/users.json'
import { openState, runCli, tempState, useLocalState } from './helpers'

const FIXTURE = join(import.meta.dirname, '../fixtures/django/users.json')

const suite = useLocalState()

/** Writes a dump file into this file's temporary directory; returns its path. */
async function dumpFile(fileName: string, content: unknown): Promise<string> {
  const path = join(suite.dir, fileName)
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content))
  return path
}

function record(pk: number, username: string, fields: Record<string, unknown> = {}) {
  const template = dump[0] as (typeof dump)[number]
  return { ...template, pk, fields: { ...template.fields, username, ...fields } }
}

describe('import', () => {
  it('imports the Django fixture into a fresh state, pks and hashes kept; again: skipped', async () => {
    // A state of its own: the fixture's pks 1-9 must be free.
    const fresh = await tempState()
    try {
      const first = await runCli(['import', FIXTURE, '--persist-to', fresh.dir])
      expect(first).toMatchObject({ code: 0, stdout: '' })
      expect(first.stderr).toBe(
        "Warning: 'frank' has an unusable password: cannot log in\n" +
          `Imported ${FIXTURE}: 9 users created.\n`,
      )
      const again = await runCli(['import', FIXTURE, '--persist-to', fresh.dir])
      expect(again.code).toBe(0)
      expect(again.stderr).toContain(
        '0 users created, 9 skipped as they already exist (alice, bob, carol, dora, erin, frank, gina, hugo, root; ' +
          'pass --update to overwrite them).',
      )
      const update = await runCli(['import', FIXTURE, '--update', '--persist-to', fresh.dir])
      expect(update.stderr).toContain('0 users created, 0 updated (0 sessions ended), 9 unchanged.')

      const state = await openState(fresh.dir)
      try {
        const rows = await state.users.list()
        expect(rows.map((row) => [row.id, row.username, row.password])).toEqual(
          dump.map((item) => [item.pk, item.fields.username, item.fields.password]),
        )
        expect(rows.find((row) => row.username === 'gina')?.is_active).toBe(0)
        expect(rows.find((row) => row.username === 'root')).toMatchObject({
          is_staff: 1,
          is_superuser: 1,
          date_joined: '2025-01-15T09:30:00.000Z',
        })
      } finally {
        await state.dispose()
      }
    } finally {
      await fresh.remove()
    }
  })

  it("imports `dumpdata auth.group auth.user`: the groups and each user's memberships", async () => {
    const path = await dumpFile('groups.json', [
      { model: 'auth.group', pk: 1, fields: { name: 'editors', permissions: [] } },
      { model: 'auth.group', pk: 2, fields: { name: 'auditors', permissions: [] } },
      record(601, 'grpone', { groups: [1] }),
      record(602, 'grptwo', { groups: [['editors'], ['auditors']] }),
    ])
    const result = await suite.user(['import', path])
    expect(result).toMatchObject({ code: 0, stderr: `Imported ${path}: 2 users created.\n` })
    const list = JSON.parse((await suite.user(['list', '--json'])).stdout) as {
      username: string
      groups: string[]
    }[]
    const groupsOf = (name: string) => list.find((user) => user.username === name)?.groups
    expect(groupsOf('grpone')).toEqual(['editors'])
    expect(groupsOf('grptwo')).toEqual(['auditors', 'editors'])
  })

  it('imports the good records, reports each bad one, and exits 1', async () => {
    const path = await dumpFile('mixed.json', [
      record(501, 'mixgood'),
      record(502, 'mix bad'),
      record(503, 'mixflag', { is_active: 'yes' }),
      record(504, 'mixgood2', { email: 'm@example.com' }),
    ])
    const result = await suite.user(['import', path])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/^Invalid: record 2, pk 502, 'mix bad': username: Enter a valid/)
    expect(result.stderr).toContain(
      "Invalid: record 3, pk 503, 'mixflag': is_active must be true or false\n",
    )
    expect(result.stderr).toContain('2 users created, 2 not imported (see above).\n')
    expect(result.stderr).toMatch(/Error: Some records were not imported\.\n$/)
    expect((await suite.local.users.getById(504))?.username).toBe('mixgood2')
    expect(await suite.local.users.getByUsername('mixflag')).toBeNull()
  })

  it('with --update, overwrites an existing user and ends their sessions', async () => {
    const existing = await suite.local.seedUser('upd1')
    const kvKey = await suite.local.addSession(existing.id)
    const path = await dumpFile('update.json', [record(600, 'upd1', { is_staff: true })])
    const result = await suite.user(['import', path, '--update'])
    expect(result).toMatchObject({ code: 0 })
    expect(result.stderr).toContain('0 users created, 1 updated (1 session ended), 0 unchanged.')
    expect(await suite.local.kv.get(kvKey)).toBeNull()
    expect(await suite.local.users.getById(existing.id)).toMatchObject({
      is_staff: 1,
      password: dump[0]?.fields.password,
    })
  })

  it('exits 1 for a file that is not JSON, or not there', async () => {
    const path = await dumpFile('broken.json', '[{"model": "auth.user",')
    const broken = await suite.user(['import', path])
    expect(broken.code).toBe(1)
    expect(broken.stderr).toMatch(/^Error: .*broken\.json is not valid JSON: /)
    const missing = await suite.user(['import', join(suite.dir, 'nope.json')])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/^Error: Cannot read .*nope\.json: ENOENT\n$/)
  })
})
