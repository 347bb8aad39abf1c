/**
 * `npm run user -- token create|list|revoke`, black-box, in the local KV and D1 that a running
 * `npm run dev` would read: the key is printed once, stored only as its SHA-256, and revoking
 * ends it.
 */
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { TEST_SECRET, useLocalState } from './helpers'

const suite = useLocalState()
const withSecret = { SECRET_KEY: TEST_SECRET }

function kvKeyOf(key: string): string {
  return `token:${createHash('sha256').update(key).digest('hex')}`
}

describe('token', () => {
  it('creates a token, prints its key once, lists it without the key, and revokes it', async () => {
    const { username } = await suite.local.seedUser(suite.name('bot'))
    const created = await suite.user(
      ['token', 'create', username, '--name', 'deploy', '--expires-in', '3600'],
      undefined,
      withSecret,
    )
    expect(created.code).toBe(0)
    const key = created.stdout.trim()
    expect(key).toMatch(/^sgt_[A-Za-z0-9]{40}$/)
    expect(await suite.local.kv.get(kvKeyOf(key))).not.toBeNull()

    const listed = await suite.user(['token', 'list', username, '--json'])
    expect(listed.code).toBe(0)
    expect(listed.stdout).not.toContain(key)
    const tokens = JSON.parse(listed.stdout) as { id: string; name: string; expires: string }[]
    expect(tokens).toHaveLength(1)
    expect(tokens[0]?.name).toBe('deploy')

    const revoked = await suite.user(['token', 'revoke', username, tokens[0]?.id as string])
    expect(revoked.code).toBe(0)
    expect(await suite.local.kv.get(kvKeyOf(key))).toBeNull()
    expect(JSON.parse((await suite.user(['token', 'list', username, '--json'])).stdout)).toEqual([])

    const events = await suite.user(['events', username, '--json', '--limit', '2'])
    expect(JSON.parse(events.stdout).map((event: { type: string }) => event.type)).toEqual([
      'token_revoked',
      'token_created',
    ])
  })

  it('refuses without SECRET_KEY, for an unknown id, and for a bad action', async () => {
    const { username } = await suite.local.seedUser(suite.name('nokey'))
    const noSecret = await suite.user(['token', 'create', username])
    expect(noSecret.code).toBe(1)
    expect(noSecret.stderr).toContain('SECRET_KEY')
    expect((await suite.user(['token', 'revoke', username, 'nope'])).code).toBe(1)
    expect((await suite.user(['token', 'rotate', username])).code).toBe(2)
  })
})
