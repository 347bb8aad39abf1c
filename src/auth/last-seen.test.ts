import { describe, expect, it } from 'vitest'
import { LastSeen } from './last-seen'

const MINUTE = 60_000

describe('LastSeen', () => {
  it('records a session the first time it is seen', () => {
    expect(new LastSeen().shouldRecord('a', 0)).toBe(true)
  })

  it('records one session at most once per 5 minutes by default', () => {
    const lastSeen = new LastSeen()
    let writes = 0
    for (let now = 0; now < 60 * MINUTE; now += 1_000) {
      if (lastSeen.shouldRecord('busy', now)) writes++
    }
    expect(writes).toBe(12)
  })

  it('records again once the interval has passed, not a millisecond before', () => {
    const lastSeen = new LastSeen()
    expect(lastSeen.shouldRecord('a', 1_000)).toBe(true)
    expect(lastSeen.shouldRecord('a', 1_000 + 5 * MINUTE - 1)).toBe(false)
    expect(lastSeen.shouldRecord('a', 1_000 + 5 * MINUTE)).toBe(true)
  })

  it('keeps separate intervals for separate sessions', () => {
    const lastSeen = new LastSeen()
    expect(lastSeen.shouldRecord('a', 0)).toBe(true)
    expect(lastSeen.shouldRecord('b', 1)).toBe(true)
    expect(lastSeen.shouldRecord('a', 2)).toBe(false)
    expect(lastSeen.shouldRecord('b', 3)).toBe(false)
  })

  it('takes another interval', () => {
    const lastSeen = new LastSeen(1_000)
    expect(lastSeen.shouldRecord('a', 0)).toBe(true)
    expect(lastSeen.shouldRecord('a', 999)).toBe(false)
    expect(lastSeen.shouldRecord('a', 1_000)).toBe(true)
  })

  it('remembers at most maxEntries sessions, forgetting the least recently recorded', () => {
    const lastSeen = new LastSeen(5 * MINUTE, 3)
    for (const id of ['a', 'b', 'c']) lastSeen.shouldRecord(id, 0)
    // 'a' is recorded again later, so 'b' is now the oldest.
    lastSeen.shouldRecord('a', 5 * MINUTE)
    lastSeen.shouldRecord('d', 5 * MINUTE)
    expect(lastSeen.size).toBe(3)
    expect(lastSeen.shouldRecord('a', 5 * MINUTE + 1)).toBe(false)
    expect(lastSeen.shouldRecord('c', 5 * MINUTE + 1)).toBe(true)
    // Full, and every entry younger than the interval: 'b' is skipped rather than evicting one.
    expect(lastSeen.shouldRecord('b', 5 * MINUTE + 1)).toBe(false)
    expect(lastSeen.size).toBe(3)
  })

  it('writes nothing in steady state even with more live sessions than it can remember', () => {
    const lastSeen = new LastSeen(5 * MINUTE, 100)
    const ids = Array.from({ length: 101 }, (_, i) => `session-${i}`)
    for (const id of ids) lastSeen.shouldRecord(id, 0)
    let writes = 0
    for (let round = 1; round <= 10; round++) {
      for (const id of ids) if (lastSeen.shouldRecord(id, round * 1000)) writes++
    }
    expect(writes).toBe(0)
  })

  it('stays bounded under 100,000 distinct sessions (default bound 10,000)', () => {
    const lastSeen = new LastSeen()
    for (let i = 0; i < 100_000; i++) lastSeen.shouldRecord(`session-${i}`, i)
    expect(lastSeen.size).toBe(10_000)
  })
})
