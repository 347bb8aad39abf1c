import { describe, expect, it } from 'vitest'
import type { SessionRecord } from './record'
import { EXPIRY_KEY, Session } from './session'

const settings = (now = 1_000_000) => ({ age: 1000, expireAtBrowserClose: false, now: () => now })

function stored(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    v: 2,
    id: 'publicid',
    data: { theme: 'dark' },
    createdAt: 0,
    expiresAt: 2_000_000,
    ...overrides,
  }
}

describe('Session', () => {
  it('starts unmodified and unaccessed, and tracks reads and writes separately', () => {
    const session = new Session(settings(), 'k'.repeat(32), 'session:x', stored())
    expect(session.modified).toBe(false)
    expect(session.accessed).toBe(false)
    expect(session.get('theme')).toBe('dark')
    expect(session.accessed).toBe(true)
    expect(session.modified).toBe(false)
    session.set('cart', [1])
    expect(session.modified).toBe(true)
  })

  it('does not adopt a key that has no record', () => {
    const session = new Session(settings(), 'a'.repeat(32), 'session:x', null)
    expect(session.key).toBeNull()
    session.set('x', 1)
    const record = session.toRecord()
    expect(session.key).not.toBe('a'.repeat(32))
    expect(session.key).toMatch(/^[a-z0-9]{32}$/)
    expect(record.data).toEqual({ x: 1 })
  })

  it('delete reports whether the key was there and only then marks the session modified', () => {
    const session = new Session(settings(), 'k'.repeat(32), 'session:x', stored())
    expect(session.delete('missing')).toBe(false)
    expect(session.modified).toBe(false)
    expect(session.delete('theme')).toBe(true)
    expect(session.modified).toBe(true)
    expect(session.isEmpty).toBe(true)
  })

  it('cycleKey keeps the data under a new key and retires the old record', () => {
    const session = new Session(settings(), 'k'.repeat(32), 'session:old', stored())
    session.cycleKey()
    expect(session.key).not.toBe('k'.repeat(32))
    expect(session.get('theme')).toBe('dark')
    expect([...session.obsoleteKvKeys]).toEqual(['session:old'])
    expect(session.id).toBe('publicid')
  })

  it('flush empties the data, forgets the key and issues a new public id', () => {
    const session = new Session(settings(), 'k'.repeat(32), 'session:old', stored())
    session.flush()
    expect(session.key).toBeNull()
    expect(session.isEmpty).toBe(true)
    expect(session.id).not.toBe('publicid')
    expect([...session.obsoleteKvKeys]).toEqual(['session:old'])
  })

  it('clear empties the data but keeps the key', () => {
    const session = new Session(settings(), 'k'.repeat(32), 'session:old', stored())
    session.clear()
    expect(session.key).toBe('k'.repeat(32))
    expect(session.isEmpty).toBe(true)
    expect(session.obsoleteKvKeys.size).toBe(0)
  })

  it('setExpiry(seconds) sets the age; 0 means browser close; null restores the defaults', () => {
    const session = new Session(settings(), null, null, null)
    expect(session.getExpiryAge()).toBe(1000)
    session.setExpiry(300)
    expect(session.getExpiryAge()).toBe(300)
    expect(session.get(EXPIRY_KEY)).toBe(300)
    session.setExpiry(0)
    expect(session.getExpireAtBrowserClose()).toBe(true)
    expect(session.getExpiryAge()).toBe(1000)
    session.setExpiry(null)
    expect(session.getExpireAtBrowserClose()).toBe(false)
    expect(() => session.setExpiry(-1)).toThrow(RangeError)
  })

  it('needs a refresh only when less than half the age is left', () => {
    const halfLeft = new Session(
      settings(1_000_000),
      'k'.repeat(32),
      'session:x',
      stored({ expiresAt: 1_000_000 + 499_000 }),
    )
    expect(halfLeft.needsRefresh()).toBe(true)
    const plenty = new Session(
      settings(1_000_000),
      'k'.repeat(32),
      'session:x',
      stored({ expiresAt: 1_000_000 + 900_000 }),
    )
    expect(plenty.needsRefresh()).toBe(false)
  })

  it('toRecord sets the expiry from the clock and the age', () => {
    const session = new Session(settings(5_000), null, null, null)
    session.set('a', 1)
    expect(session.toRecord().expiresAt).toBe(5_000 + 1_000_000)
  })
})
