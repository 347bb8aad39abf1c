import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { Throttled } from '../errors'
import { LoginThrottle } from './index'

const WINDOW_MS = 900_000

let counter = 0
/** A client address no other test in this file uses, so each test has its own buckets. */
function freshIp(): string {
  counter += 1
  return `198.51.100.${counter}`
}

/** A throttle on this file's D1 whose clock the test moves. */
function throttleAt(
  clock: { now: number },
  options: { pairLimit?: number; ipLimit?: number } = {},
) {
  return () => new LoginThrottle(env.DB, { ...options, now: () => clock.now })
}

/** One attempt's verdicts, each in a round trip of its own, as the password change asks them. */
const check = (throttle: LoginThrottle, ip: string, username: string) =>
  throttle.attempt(ip, username).then((attempt) => attempt.check())
const recordFailure = (throttle: LoginThrottle, ip: string, username: string) =>
  throttle.attempt(ip, username).then((attempt) => attempt.recordFailure())
const recordSuccess = (throttle: LoginThrottle, ip: string, username: string) =>
  throttle.attempt(ip, username).then((attempt) => attempt.recordSuccess())

async function fail(make: () => LoginThrottle, ip: string, username: string): Promise<void> {
  const throttle = make()
  await check(throttle, ip, username)
  await recordFailure(throttle, ip, username)
}

async function refusal(promise: Promise<unknown>): Promise<Throttled> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  )
  expect(error).toBeInstanceOf(Throttled)
  return error as Throttled
}

describe('LoginThrottle', () => {
  it('allows 5 failures for a pair and refuses the 6th attempt with the seconds left', async () => {
    const clock = { now: 1_000_000 }
    const make = throttleAt(clock)
    const ip = freshIp()
    for (let i = 0; i < 5; i++) await fail(make, ip, 'ada')
    clock.now += 60_000
    const error = await refusal(check(make(), ip, 'ada'))
    expect(error.status).toBe(429)
    expect(error.message).toBe('Request was throttled. Expected available in 840 seconds.')
    expect(error.headers['Retry-After']).toBe('840')
  })

  it('opens again once the window that began at the first failure has passed', async () => {
    const clock = { now: 5_000_000 }
    const make = throttleAt(clock)
    const ip = freshIp()
    for (let i = 0; i < 5; i++) await fail(make, ip, 'grace')
    clock.now += WINDOW_MS - 1
    await refusal(check(make(), ip, 'grace'))
    clock.now += 1
    await expect(check(make(), ip, 'grace')).resolves.toBeUndefined()
  })

  it('starts a new window with a count of 1 after the old one passed', async () => {
    const clock = { now: 9_000_000 }
    const make = throttleAt(clock)
    const ip = freshIp()
    for (let i = 0; i < 5; i++) await fail(make, ip, 'alan')
    clock.now += WINDOW_MS
    await fail(make, ip, 'alan')
    for (let i = 0; i < 4; i++) await fail(make, ip, 'alan')
    await refusal(check(make(), ip, 'alan'))
  })

  it('does not count refused attempts: the window is not extended by hammering', async () => {
    const clock = { now: 13_000_000 }
    const make = throttleAt(clock)
    const ip = freshIp()
    for (let i = 0; i < 5; i++) await fail(make, ip, 'edsger')
    for (let i = 0; i < 10; i++) await refusal(check(make(), ip, 'edsger'))
    const row = await env.DB.prepare(
      "SELECT failures FROM login_failures WHERE bucket = 'ip:' || ?1",
    )
      .bind(ip)
      .first<{ failures: number }>()
    expect(row?.failures).toBe(5)
    clock.now += WINDOW_MS
    await expect(check(make(), ip, 'edsger')).resolves.toBeUndefined()
  })

  it('forgets the pair after a success; a success does not count against the IP', async () => {
    const clock = { now: 17_000_000 }
    const make = throttleAt(clock, { ipLimit: 6 })
    const ip = freshIp()
    for (let i = 0; i < 4; i++) await fail(make, ip, 'barbara')
    const throttle = make()
    await check(throttle, ip, 'barbara')
    await recordSuccess(throttle, ip, 'barbara')
    // The pair starts again from 0; the IP keeps its 4 failures and gains none for the success.
    for (let i = 0; i < 2; i++) await fail(make, ip, 'barbara')
    await refusal(check(make(), ip, 'barbara'))
  })

  it('limits failures per IP across usernames', async () => {
    const clock = { now: 21_000_000 }
    const make = throttleAt(clock, { ipLimit: 3 })
    const ip = freshIp()
    await fail(make, ip, 'a')
    await fail(make, ip, 'b')
    await fail(make, ip, 'c')
    await refusal(check(make(), ip, 'd'))
    await expect(check(make(), freshIp(), 'd')).resolves.toBeUndefined()
  })

  it('answers only the first 5 failures of a concurrent burst as failures, the rest 429', async () => {
    const clock = { now: 25_000_000 }
    const make = throttleAt(clock)
    const ip = freshIp()
    // Every guess passes check() before any failure is counted, as in a real burst.
    const throttles = Array.from({ length: 20 }, () => make())
    await Promise.all(throttles.map((throttle) => check(throttle, ip, 'burst')))
    const outcomes = await Promise.allSettled(
      throttles.map((throttle) => recordFailure(throttle, ip, 'burst')),
    )
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(5)
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(Throttled)
    }
  })

  it('refuses the right password (429) when concurrent failures reached the limit meanwhile', async () => {
    const clock = { now: 27_000_000 }
    const make = throttleAt(clock)
    const ip = freshIp()
    const rightGuess = make()
    await check(rightGuess, ip, 'late')
    for (let i = 0; i < 5; i++) await fail(make, ip, 'late')
    await refusal(recordSuccess(rightGuess, ip, 'late'))
    // The failures are kept: the pair stays locked.
    await refusal(check(make(), ip, 'late'))
  })

  it('lets any number of concurrent right passwords through: only failures count', async () => {
    const clock = { now: 28_000_000 }
    const make = throttleAt(clock)
    const ip = freshIp()
    const throttles = Array.from({ length: 20 }, () => make())
    await Promise.all(throttles.map((throttle) => check(throttle, ip, 'crowd')))
    await Promise.all(throttles.map((throttle) => recordSuccess(throttle, ip, 'crowd')))
    await expect(check(make(), ip, 'crowd')).resolves.toBeUndefined()
  })

  it('counts the addresses of one IPv6 /64 together', async () => {
    const clock = { now: 29_000_000 }
    const make = throttleAt(clock)
    for (let i = 1; i <= 5; i++) await fail(make, `2001:db8:77:1::${i}`, 'ipv6')
    await refusal(check(make(), '2001:db8:77:1:ffff::1', 'ipv6'))
    await expect(check(make(), '2001:db8:77:2::1', 'ipv6')).resolves.toBeUndefined()
  })

  it('keeps usernames out of the table: the pair bucket is a hash', async () => {
    const clock = { now: 33_000_000 }
    const ip = freshIp()
    await fail(throttleAt(clock), ip, 'my-secret-password-typed-as-username')
    const { results } = await env.DB.prepare('SELECT bucket FROM login_failures').all<{
      bucket: string
    }>()
    const names = results.map((row) => row.bucket)
    expect(names).toContain(`ip:${ip}`)
    expect(names.some((name) => name.includes('my-secret'))).toBe(false)
    expect(
      names
        .filter((name) => name.startsWith('pair:'))
        .every((name) => /^pair:[0-9a-f]{64}:[0-9a-f]{64}$/.test(name)),
    ).toBe(true)
  })
})
