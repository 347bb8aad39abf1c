/**
 * Identity assertions: short-lived ES256 JWTs that tell the origin who is calling, signed with
 * ASSERTION_KEYS and verifiable with the JWKS at `/.well-known/jwks.json`.
 *
 * Keys are imported once per isolate (the promise is cached). Signing is cheap but not free, so a
 * signed assertion is reused for the same session and the same user claims while it has most of
 * its life left (see `AssertionOptions.reuseSeconds`); a changed snapshot (username, email, flags)
 * gives a different cache key, so it is never served stale.
 */
import { importJWK, type JWK, SignJWT } from 'jose'
import { ImproperlyConfigured } from '../errors'
import type { UserSnapshot } from '../session'
import { ALPHANUMERIC, randomString } from '../utils/crypto'

/** The lifetime of an assertion: short, because a revoked session is only seen at one location. */
export const ASSERTION_LIFETIME_SECONDS = 60
const ALG = 'ES256'

/** A public key as `/.well-known/jwks.json` lists it. */
export interface PublicJwk {
  kty: 'EC'
  crv: 'P-256'
  x: string
  y: string
  kid: string
  alg: 'ES256'
  use: 'sig'
}

export interface AssertionOptions {
  /**
   * ASSERTION_KEYS: EC P-256 JWKs with `kid`. The first is private and signs; the others may be
   * public (retired keys, only published).
   */
  keys: readonly JsonWebKey[]
  /**
   * Whether an empty `keys` may be replaced by a key made for this isolate (DEBUG only). When it
   * may not, the JWKS is empty and signing is a 500 naming ASSERTION_KEYS. Default false.
   */
  allowEphemeral?: boolean
  /** ASSERTION_ISSUER. */
  issuer: string
  /** The default `aud`: ASSERTION_AUDIENCE (each route may name its own; see `assertionFor`). */
  audience: string
  /** The clock (ms). Default `Date.now`. */
  now?: () => number
  /** Seconds an assertion is reused for the same session and claims. Default 30; 0 disables. */
  reuseSeconds?: number
  /** Most assertions kept for reuse (the oldest go first). Default 10,000. */
  maxCached?: number
}

interface SigningKey {
  kid: string
  key: CryptoKey
}

interface KeySet {
  signing: SigningKey | null
  jwks: { keys: PublicJwk[] }
}

interface Cached {
  token: string
  /** Until when (ms) the token may be handed out again. */
  reuseUntil: number
}

/** Signs identity assertions and publishes the public keys; one per app (so per isolate). */
export class AssertionSigner {
  readonly #options: AssertionOptions
  readonly #now: () => number
  readonly #reuseMs: number
  readonly #maxCached: number
  readonly #cache = new Map<string, Cached>()
  #keys: Promise<KeySet> | undefined

  constructor(options: AssertionOptions) {
    this.#options = options
    this.#now = options.now ?? Date.now
    this.#reuseMs = Math.min(options.reuseSeconds ?? 30, ASSERTION_LIFETIME_SECONDS - 10) * 1000
    this.#maxCached = options.maxCached ?? 10_000
  }

  /** The public JWKS: every configured key (current and previous), without private parts. */
  async jwks(): Promise<{ keys: PublicJwk[] }> {
    return (await this.#keySet()).jwks
  }

  /**
   * The assertion for `user` on the session `sessionId`, from `clientIp`, signed in by `amr`: a
   * JWT with `iss`, `aud`, `sub`, `preferred_username`, `email`, `email_verified`, `is_staff`,
   * `is_superuser`, `groups`, `amr`, `client_ip`, `iat`, `exp` (iat + 60 s) and a random `jti`,
   * and the `kid` of the signing key in its header. `audience` is its `aud` (default: the one
   * given to the constructor): the route's, so that each origin gets assertions made out to it.
   */
  async assertionFor(
    user: UserSnapshot,
    sessionId: string,
    clientIp: string,
    amr: readonly string[] = [],
    audience: string = this.#options.audience,
  ): Promise<string> {
    const claims = {
      sub: String(user.id),
      preferred_username: user.username,
      email: user.email,
      email_verified: user.email_verified,
      is_staff: user.is_staff,
      is_superuser: user.is_superuser,
      groups: user.groups,
      amr,
      client_ip: clientIp,
    }
    const now = this.#now()
    const cacheKey = `${sessionId}\u0000${audience}\u0000${JSON.stringify(claims)}`
    const cached = this.#reuseMs > 0 ? this.#cache.get(cacheKey) : undefined
    if (cached && cached.reuseUntil > now) return cached.token

    const { signing } = await this.#keySet()
    if (!signing) {
      throw new ImproperlyConfigured(
        'ASSERTION_KEYS',
        'is not set: identity assertions cannot be signed.',
      )
    }
    const iat = Math.floor(now / 1000)
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: ALG, kid: signing.kid, typ: 'JWT' })
      .setIssuer(this.#options.issuer)
      .setAudience(audience)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ASSERTION_LIFETIME_SECONDS)
      // 128 bits: 22 characters of a 62-letter alphabet = 131 bits.
      .setJti(randomString(ALPHANUMERIC, 22))
      .sign(signing.key)
    if (this.#reuseMs > 0)
      this.#remember(cacheKey, { token, reuseUntil: iat * 1000 + this.#reuseMs })
    return token
  }

  #remember(key: string, entry: Cached): void {
    this.#cache.delete(key)
    if (this.#cache.size >= this.#maxCached) {
      // A Map iterates in insertion order: the first key is the oldest.
      const oldest = this.#cache.keys().next().value
      if (oldest !== undefined) this.#cache.delete(oldest)
    }
    this.#cache.set(key, entry)
  }

  #keySet(): Promise<KeySet> {
    this.#keys ??= loadKeys(this.#options.keys, this.#options.allowEphemeral ?? false).catch(
      (error) => {
        // A key that cannot be imported stays an error on every request, naming the setting.
        this.#keys = undefined
        throw error instanceof ImproperlyConfigured
          ? error
          : new ImproperlyConfigured('ASSERTION_KEYS', 'holds a key that cannot be imported.')
      },
    )
    return this.#keys
  }
}

/**
 * The public part of an EC P-256 JWK, private or already public, as the JWKS lists it: never `d`,
 * whatever else the entry holds.
 */
export function publicJwk(jwk: JsonWebKey & { kid?: string }): PublicJwk {
  if (
    jwk.kty !== 'EC' ||
    jwk.crv !== 'P-256' ||
    typeof jwk.x !== 'string' ||
    typeof jwk.y !== 'string' ||
    typeof jwk.kid !== 'string'
  ) {
    throw new ImproperlyConfigured(
      'ASSERTION_KEYS',
      'entries must be EC P-256 JWKs with "x", "y" and "kid".',
    )
  }
  return { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, kid: jwk.kid, alg: ALG, use: 'sig' }
}

/**
 * Imports the signing key (the first, which must be private) and checks that every key to be
 * published is a point WebCrypto accepts: entries after the first may be public JWKs of retired
 * keys, and a mistyped one would otherwise be published and fail only at the origins.
 */
async function loadKeys(keys: readonly JsonWebKey[], allowEphemeral: boolean): Promise<KeySet> {
  if (keys.length === 0 && !allowEphemeral) return { signing: null, jwks: { keys: [] } }
  if (keys.length === 0) {
    console.warn('ASSERTION_KEYS is not set; signing assertions with a key for this process only.')
  }
  const all = keys.length > 0 ? keys : [await ephemeralKey()]
  const first = all[0] as JsonWebKey & { kid: string }
  if (typeof first.d !== 'string') {
    throw new ImproperlyConfigured(
      'ASSERTION_KEYS',
      'must start with a private JWK (with "d"): the first entry signs.',
    )
  }
  const publicKeys = all.map(publicJwk)
  const { kty, crv, x, y, d } = first
  const [key] = await Promise.all([
    importJWK({ kty, crv, x, y, d } as JWK, ALG) as Promise<CryptoKey>,
    ...publicKeys.slice(1).map(({ kty, crv, x, y }) => importJWK({ kty, crv, x, y }, ALG)),
  ])
  return { signing: { kid: first.kid, key }, jwks: { keys: publicKeys } }
}

/** A fresh private JWK with a random `kid`, for DEBUG runs without ASSERTION_KEYS. */
async function ephemeralKey(): Promise<JsonWebKey & { kid: string }> {
  const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair
  const jwk = (await crypto.subtle.exportKey('jwk', pair.privateKey)) as JsonWebKey
  return { ...jwk, kid: `ephemeral-${randomString(ALPHANUMERIC, 12)}` }
}
