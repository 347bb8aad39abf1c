/**
 * `npm run user -- mfa-reset <username>`, black-box: every factor goes, and every session ends,
 * in the local KV and D1 that a running `npm run dev` would read.
 */
import { describe, expect, it } from 'vitest'
import { MfaRepository } from '../../src/mfa/repository'
import { useLocalState } from './helpers'

const suite = useLocalState()

/** Gives a user an authenticator app, two recovery codes and a passkey, straight in D1. */
async function seedFactors(db: D1Database, userId: number): Promise<void> {
  const mfa = new MfaRepository(db)
  const now = new Date().toISOString()
  await db.batch([
    mfa.startTotpStatement(userId, 'v1.sealed.secret', now),
    mfa.confirmTotpStatement(userId, 'v1.sealed.secret', 1),
    ...mfa.replaceCodesStatements(userId, ['a'.repeat(64), 'b'.repeat(64)], now),
    mfa.insertPasskeyStatement({
      id: `pk${userId}`,
      user_id: userId,
      credential_id: `cred${userId}`,
      public_key: 'pQECAyYgASFYIA',
      sign_count: 0,
      transports: '[]',
      name: 'Laptop',
      created_at: now,
      last_used: null,
    }),
  ])
}

describe('mfa-reset', () => {
  it('removes the app, the recovery codes and the passkeys, and ends every session', async () => {
    const { id, username } = await suite.local.seedUser(suite.name('lost'))
    const bystander = await suite.local.seedUser(suite.name('kept'))
    await seedFactors(suite.local.db, id)
    await seedFactors(suite.local.db, bystander.id)
    const first = await suite.local.addSession(id)
    const second = await suite.local.addSession(id)
    const kept = await suite.local.addSession(bystander.id)

    const result = await suite.user(['mfa-reset', username])
    expect(result).toMatchObject({
      code: 0,
      stdout: '',
      stderr:
        `Second factors of '${username}' reset (removed the authenticator app, 1 passkey, ` +
        '2 recovery codes); 2 sessions ended.\n',
    })
    const mfa = new MfaRepository(suite.local.db)
    expect(await mfa.counts(id)).toEqual({ totp: 0, passkeys: 0, recovery_codes: 0 })
    expect(await mfa.stored(id)).toEqual({ totp: null, codes: [], passkeys: [] })
    expect(await suite.local.kv.get(first)).toBeNull()
    expect(await suite.local.kv.get(second)).toBeNull()
    expect(await suite.local.kv.get(kept)).not.toBeNull()
    expect(await mfa.counts(bystander.id)).toEqual({ totp: 1, passkeys: 1, recovery_codes: 2 })

    const events = await suite.user(['events', username, '--json', '--limit', '1'])
    expect(JSON.parse(events.stdout)).toMatchObject([
      { type: 'mfa_disabled', username, detail: { method: 'all', reset: true } },
    ])
  })

  it('says so for a user with no factor, and exits 1 for an unknown user', async () => {
    const { username } = await suite.local.seedUser(suite.name('none'))
    expect(await suite.user(['mfa-reset', username])).toMatchObject({
      code: 0,
      stderr: `Second factors of '${username}' reset (no factor to remove); 0 sessions ended.\n`,
    })
    expect((await suite.user(['mfa-reset', suite.name('nobody')])).code).toBe(1)
  })
})
