/**
 * Helpers for the gateway tests: assertion keys, an app in front of the real test origins
 * (test/gateway/origin.ts), a logged-in client, and the way its session signed in.
 */
import { exportJWK, generateKeyPair } from 'jose'
import { inject } from 'vitest'
import type { Env } from '../../src/env'
import { kvKeyFor } from '../../src/session/key'
import { appFetch, Client, createUser, testStore } from '../helpers'

/** A fresh private EC P-256 JWK with a `kid`, as ASSERTION_KEYS holds them. */
export async function privateJwk(
  kid = `test-${crypto.randomUUID()}`,
): Promise<JsonWebKey & { kid: string }> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true })
  return { ...(await exportJWK(privateKey)), kid } as JsonWebKey & { kid: string }
}

/** The echo the test origin answers with. */
export interface Echo {
  method: string
  url: string
  headers: Record<string, string | undefined>
  bodyBytes: number
  body: string | null
}

/** The test origin's URL. */
export function originUrl(): string {
  return inject('originUrl')
}

/**
 * An app in front of the test origin with one fresh assertion key, plus `overrides`. Returns the
 * fetcher and the key.
 */
export async function gatewayApp(overrides: Partial<Env> = {}, now?: () => number) {
  const key = await privateJwk()
  const fetcher = appFetch(
    { ORIGIN_URL: originUrl(), ASSERTION_KEYS: JSON.stringify([key]), ...overrides },
    now,
  )
  return { fetcher, key }
}

/** A client logged in (through the JSON API) as a new user with these fields. */
export async function loggedIn(
  fetcher: ConstructorParameters<typeof Client>[0],
  fields: Parameters<typeof createUser>[0] = {},
) {
  const user = await createUser(fields)
  const client = new Client(fetcher)
  await client.login(user.username, user.password)
  return { client, user }
}

/** The second test origin's URL (it answers `X-Origin: second`). */
export function secondOriginUrl(): string {
  return inject('secondOriginUrl')
}

/**
 * Rewrites how the client's session signed in (its `amr`), as a sign-in with a second factor
 * would have stored it: the gateway only reads it.
 */
export async function setAmr(client: Client, amr: string[]): Promise<void> {
  const key = client.cookies.get('sessionid')
  if (!key) throw new Error('the client has no session')
  const kvKey = await kvKeyFor(key)
  const store = testStore()
  const record = await store.load(kvKey)
  if (!record) throw new Error('the session has no record')
  await store.save(kvKey, { ...record, amr })
}
