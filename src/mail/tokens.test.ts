import { describe, expect, it } from 'vitest'
import fixtures from '../../test/fixtures/django/reset-tokens.json'
import {
  checkToken,
  decodeUid,
  encodeUid,
  loginTimestamp,
  makeToken,
  PASSWORD_RESET_SALT,
} from './tokens'

const DAY = 86_400

describe('Django password reset tokens', () => {
  for (const vector of fixtures.vectors) {
    it(`makes the token Django made: ${vector.note}`, async () => {
      expect(await makeToken(vector.user, vector.secret, Date.parse(vector.now))).toBe(vector.token)
      expect(encodeUid(vector.user.id)).toBe(vector.uid)
      expect(decodeUid(vector.uid)).toBe(vector.user.id)
    })

    it(`accepts the token Django made: ${vector.note}`, async () => {
      const secrets = [fixtures.secret, fixtures.fallback]
      const later = Date.parse(vector.now) + 3 * DAY * 1000
      expect(await checkToken(vector.user, vector.token, secrets, later, 3 * DAY)).toBe(true)
    })
  }

  it('refuses a token past the timeout, by one second', async () => {
    const [vector] = fixtures.vectors
    if (!vector) throw new Error('no vectors')
    const late = Date.parse(vector.now) + (3 * DAY + 1) * 1000
    expect(await checkToken(vector.user, vector.token, [fixtures.secret], late, 3 * DAY)).toBe(
      false,
    )
  })

  it('refuses a token once the password, the last login or the e-mail changed', async () => {
    const [vector] = fixtures.vectors
    if (!vector) throw new Error('no vectors')
    const now = Date.parse(vector.now)
    const check = (user: typeof vector.user) =>
      checkToken(user, vector.token, [fixtures.secret], now, DAY)
    expect(await check(vector.user)).toBe(true)
    expect(await check({ ...vector.user, password: `${vector.user.password}x` })).toBe(false)
    expect(await check({ ...vector.user, last_login: '2026-06-01T12:00:00.000Z' })).toBe(false)
    expect(await check({ ...vector.user, email: 'other@example.com' })).toBe(false)
  })

  it('refuses a token made under an unknown secret or another salt', async () => {
    const [vector] = fixtures.vectors
    if (!vector) throw new Error('no vectors')
    const now = Date.parse(vector.now)
    expect(await checkToken(vector.user, vector.token, ['another secret'], now, DAY)).toBe(false)
    const other = await makeToken(vector.user, fixtures.secret, now, 'sessiongate.other')
    expect(await checkToken(vector.user, other, [fixtures.secret], now, DAY)).toBe(false)
    expect(
      await checkToken(vector.user, other, [fixtures.secret], now, DAY, PASSWORD_RESET_SALT),
    ).toBe(false)
  })

  it('refuses malformed tokens without throwing', async () => {
    const [vector] = fixtures.vectors
    if (!vector) throw new Error('no vectors')
    const now = Date.parse(vector.now)
    for (const token of [
      undefined,
      42,
      '',
      '-',
      'abc',
      'zzzzzzzzzzzzzz-00',
      '!!-00',
      `${vector.token}0`,
    ]) {
      expect(await checkToken(vector.user, token, [fixtures.secret], now, DAY)).toBe(false)
    }
  })

  it('reads last_login to the second, as Django prints it', () => {
    expect(loginTimestamp(null)).toBe('')
    expect(loginTimestamp('2026-05-30T08:15:42.987Z')).toBe('2026-05-30 08:15:42')
    expect(loginTimestamp('2026-05-30T08:15:42Z')).toBe('2026-05-30 08:15:42')
  })

  it('decodes only uids that are a user id', () => {
    for (const uid of [undefined, '', 'MA', 'LTE', 'YWJj', '!!', 'MQ==', 'x'.repeat(40)]) {
      expect(decodeUid(uid)).toBeNull()
    }
    expect(decodeUid(encodeUid(9_007_199_254_740_991))).toBe(9_007_199_254_740_991)
  })
})
