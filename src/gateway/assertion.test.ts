import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify } from 'jose'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../config'
import type { Env } from '../env'
import { ImproperlyConfigured } from '../errors'
import type { UserSnapshot } from '../session'
import { AssertionSigner, publicJwk } from './assertion'

async function privateJwk(kid: string): Promise<JsonWebKey> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true })
  return { ...(await exportJWK(privateKey)), kid } as JsonWebKey
}

/** What an operator keeps of a retired key: its JWKS entry, without `d`. */
function publicOnly(jwk: JsonWebKey): JsonWebKey {
  const { d: _private, ...rest } = jwk
  return { ...rest, alg: 'ES256', use: 'sig' } as JsonWebKey
}

const alice: UserSnapshot = {
  id: 7,
  username: 'alice',
  email: 'alice@example.com',
  first_name: 'Alice',
  last_name: 'Liddell',
  email_verified: false,
  groups: [],
  is_staff: false,
  is_superuser: false,
  last_login: null,
  date_joined: '2024-01-01T00:00:00.000Z',
}

function signer(keys: JsonWebKey[], options: { now?: () => number; maxCached?: number } = {}) {
  return new AssertionSigner({
    keys,
    issuer: 'sessiongate',
    audience: 'https://api.test',
    ...options,
  })
}

describe('AssertionSigner', () => {
  it('publishes only the public parts of every key', async () => {
    const keys = [await privateJwk('new'), await privateJwk('old')]
    const { keys: published } = await signer(keys).jwks()
    expect(published.map((key) => key.kid)).toEqual(['new', 'old'])
    for (const key of published) {
      expect(Object.keys(key).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y'])
      expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' })
    }
  })

  it('signs with the first key, verifiable against the JWKS', async () => {
    const assertions = signer([await privateJwk('new'), await privateJwk('old')])
    const token = await assertions.assertionFor(alice, 'sid', '203.0.113.5')
    const { payload, protectedHeader } = await jwtVerify(
      token,
      createLocalJWKSet(await assertions.jwks()),
      { issuer: 'sessiongate', audience: 'https://api.test', algorithms: ['ES256'] },
    )
    expect(protectedHeader).toMatchObject({ alg: 'ES256', kid: 'new' })
    expect(payload.sub).toBe('7')
  })

  it('reuses an assertion for the same session and claims for 30 s, then signs anew', async () => {
    let now = 1_700_000_000_000
    const assertions = signer([await privateJwk('k')], { now: () => now })
    const first = await assertions.assertionFor(alice, 'sid', '203.0.113.5')
    now += 29_000
    expect(await assertions.assertionFor(alice, 'sid', '203.0.113.5')).toBe(first)
    now += 2_000
    expect(await assertions.assertionFor(alice, 'sid', '203.0.113.5')).not.toBe(first)
  })

  it('never reuses across sessions or changed claims', async () => {
    const assertions = signer([await privateJwk('k')])
    const first = await assertions.assertionFor(alice, 'sid', '203.0.113.5')
    expect(await assertions.assertionFor(alice, 'other', '203.0.113.5')).not.toBe(first)
    expect(
      await assertions.assertionFor({ ...alice, is_staff: true }, 'sid', '203.0.113.5'),
    ).not.toBe(first)
    expect(
      await assertions.assertionFor({ ...alice, email: 'new@example.com' }, 'sid', '203.0.113.5'),
    ).not.toBe(first)
  })

  it('keeps at most maxCached assertions, dropping the oldest', async () => {
    const assertions = signer([await privateJwk('k')], { maxCached: 2 })
    const first = await assertions.assertionFor(alice, 's1', '203.0.113.5')
    await assertions.assertionFor(alice, 's2', '203.0.113.5')
    await assertions.assertionFor(alice, 's3', '203.0.113.5')
    expect(await assertions.assertionFor(alice, 's1', '203.0.113.5')).not.toBe(first)
  })

  it('refuses to sign without keys unless ephemeral keys are allowed', async () => {
    await expect(signer([]).assertionFor(alice, 'sid', '203.0.113.5')).rejects.toBeInstanceOf(
      ImproperlyConfigured,
    )
    expect((await signer([]).jwks()).keys).toEqual([])
    const debug = new AssertionSigner({
      keys: [],
      allowEphemeral: true,
      issuer: 'i',
      audience: 'a',
    })
    expect(await debug.assertionFor(alice, 'sid', '203.0.113.5')).toMatch(/^ey/)
  })

  it('names ASSERTION_KEYS when a key cannot be imported', async () => {
    const broken = { ...(await privateJwk('k')), d: 'AAAA' }
    await expect(signer([broken]).assertionFor(alice, 'sid', '203.0.113.5')).rejects.toThrow(
      /ASSERTION_KEYS/,
    )
  })

  it('publishes a retired key given only as a public JWK, and signs with the private first', async () => {
    const current = await privateJwk('new')
    const retired = await privateJwk('old')
    const assertions = signer([current, publicOnly(retired)])
    const { keys: published } = await assertions.jwks()
    expect(published.map((key) => key.kid)).toEqual(['new', 'old'])
    expect(published[1]).toEqual(publicJwk(retired as JsonWebKey & { kid: string }))
    const token = await assertions.assertionFor(alice, 'sid', '203.0.113.5')
    const jwks = createLocalJWKSet(await assertions.jwks())
    const { protectedHeader } = await jwtVerify(token, jwks, { algorithms: ['ES256'] })
    expect(protectedHeader.kid).toBe('new')

    // A token the retired key signed before the rotation still verifies against the new JWKS.
    const before = await signer([retired]).assertionFor(alice, 'sid', '203.0.113.5')
    expect((await jwtVerify(before, jwks, { algorithms: ['ES256'] })).protectedHeader.kid).toBe(
      'old',
    )
  })

  it('rotates with only the public half of the old key, from ASSERTION_KEYS to the JWKS', async () => {
    const keys = [await privateJwk('new'), publicOnly(await privateJwk('old'))]
    const config = loadConfig({
      SECRET_KEY: 'x1y2z3-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123',
      ASSERTION_KEYS: JSON.stringify(keys),
    } as Env)
    const assertions = signer(config.assertionKeys)
    expect((await assertions.jwks()).keys.map((key) => key.kid)).toEqual(['new', 'old'])
    expect(await assertions.assertionFor(alice, 'sid', '203.0.113.5')).toMatch(/^ey/)
  })

  it('refuses to sign with a public key first, naming ASSERTION_KEYS', async () => {
    const keys = [publicOnly(await privateJwk('new')), await privateJwk('old')]
    await expect(signer(keys).assertionFor(alice, 'sid', '203.0.113.5')).rejects.toThrow(
      /ASSERTION_KEYS must start with a private JWK/,
    )
    await expect(signer(keys).jwks()).rejects.toBeInstanceOf(ImproperlyConfigured)
  })

  it('refuses a public key that is not a point of P-256 rather than publish it', async () => {
    const retired = publicOnly(await privateJwk('old'))
    const swapped = { ...retired, x: retired.y, y: retired.x }
    await expect(signer([await privateJwk('new'), swapped]).jwks()).rejects.toThrow(
      /ASSERTION_KEYS holds a key that cannot be imported/,
    )
  })

  it('refuses a key without its public coordinates', () => {
    expect(() => publicJwk({ kty: 'EC', crv: 'P-256', d: 'x', kid: 'k' } as JsonWebKey)).toThrow(
      /ASSERTION_KEYS/,
    )
  })

  it('measures the cost of signing (logged, not asserted)', async () => {
    const fresh = new AssertionSigner({
      keys: [await privateJwk('k')],
      issuer: 'i',
      audience: 'a',
      reuseSeconds: 0,
    })
    await fresh.assertionFor(alice, 'warm-up', '203.0.113.5')
    const rounds = 300
    let started = performance.now()
    for (let i = 0; i < rounds; i++) await fresh.assertionFor(alice, `s${i}`, '203.0.113.5')
    const signMs = (performance.now() - started) / rounds
    const reused = signer([await privateJwk('k')])
    await reused.assertionFor(alice, 'sid', '203.0.113.5')
    started = performance.now()
    for (let i = 0; i < rounds; i++) await reused.assertionFor(alice, 'sid', '203.0.113.5')
    const reuseMs = (performance.now() - started) / rounds
    // workerd freezes timers inside a request for Spectre safety; in tests they advance.
    console.log(
      `assertion: sign ${(signMs * 1000).toFixed(0)} µs, reuse ${(reuseMs * 1000).toFixed(1)} µs`,
    )
    expect(signMs).toBeGreaterThanOrEqual(0)
  })
})
