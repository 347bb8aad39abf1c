/**
 * Helpers of the second-factor tests: an app on a clock the test moves, signed-in clients, and
 * codes computed as an authenticator app computes them.
 */
import { decodeBase32IgnorePadding } from '@oslojs/encoding'
import { generateHOTP } from '@oslojs/otp'
import { expect } from 'vitest'
import type { Env } from '../../src/env'
import { appFetch, Client, createUser } from '../helpers'

/** A clock the test moves: starts now, rounded to the start of a 30 s TOTP step. */
export class TestClock {
  time = Math.floor(Date.now() / 30_000) * 30_000

  readonly now = () => this.time

  /** Moves the clock on by `seconds`. */
  advance(seconds: number): void {
    this.time += seconds * 1000
  }
}

/** An app on `clock`, with other settings if given; and its own client base. */
export function clockedApp(clock: TestClock, overrides: Partial<Env> = {}) {
  return appFetch(overrides, clock.now)
}

/** The TOTP code of a base32 secret at `time` (ms), `offset` steps away. */
export function totpCode(secret: string, time: number, offset = 0): string {
  const step = Math.floor(time / 30_000) + offset
  return generateHOTP(decodeBase32IgnorePadding(secret), BigInt(step), 6)
}

/** A new user, and a client signed in as them (password only). */
export async function signedInUser(fetcher: ReturnType<typeof appFetch>) {
  const user = await createUser()
  const client = new Client(fetcher)
  await client.login(user.username, user.password)
  return { user, client }
}

/**
 * Turns on TOTP for the signed-in user of `client`: returns the secret and the recovery codes.
 * The clock moves on one step after, so the next code is not the one just used.
 */
export async function enableTotp(client: Client, password: string, clock: TestClock) {
  const started = await client.post('/auth/mfa/totp', { json: { password } })
  expect(started.status).toBe(200)
  const { secret } = (await started.json()) as { secret: string }
  const confirmed = await client.post('/auth/mfa/totp/confirm', {
    json: { code: totpCode(secret, clock.time) },
  })
  expect(confirmed.status).toBe(200)
  const { recovery_codes: codes } = (await confirmed.json()) as { recovery_codes: string[] }
  clock.advance(30)
  return { secret, codes }
}

/** Posts a password login; returns the response's status and JSON. */
export async function passwordLogin(client: Client, username: string, password: string) {
  const response = await client.post('/auth/login', { json: { username, password } })
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}
