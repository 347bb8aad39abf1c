/**
 * The OAuth 2.0 / OpenID Connect client side of a sign-in, over `oauth4webapi`: the provider's
 * metadata (OpenID discovery, or GitHub's fixed endpoints), the authorization request, and the
 * callback (state, code exchange with PKCE, ID token checks) down to a verified identity.
 *
 * Discovery documents and JWKS are fetched over HTTP and cached per isolate: every sign-in would
 * otherwise cost two more subrequests, and providers rotate keys slowly and publish the next key
 * before signing with it. A token signed by a key the cache does not know refetches the JWKS (at
 * most once a minute), so a rotation is picked up at once.
 */
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose'
import * as oauth from 'oauth4webapi'
import type { SsoProvider } from '../config'
import { isObject } from '../utils/json'

/** How long discovery documents are kept: an hour, as providers change them rarely. */
const DISCOVERY_TTL_MS = 60 * 60 * 1000
/** How long a JWKS is kept: ten minutes. */
const JWKS_TTL_MS = 10 * 60 * 1000
/** Least time between two fetches of one JWKS for an unknown `kid` (a forged token's). */
const JWKS_REFETCH_MS = 60 * 1000
/** How long a provider may take to answer one request. */
const PROVIDER_TIMEOUT_MS = 10_000

/** Why a sign-in or a logout token was refused, in words for the sign-in page and the log. */
export class ProviderError extends Error {}

/** Who the provider says signed in. */
export interface VerifiedIdentity {
  /** `sub`, or GitHub's numeric user id. */
  subject: string
  /** The e-mail the provider gives, lower-cased domain; '' when none. */
  email: string
  /** Whether the provider says it verified that e-mail. */
  emailVerified: boolean
  /** A username to start from at sign-up (`preferred_username`, GitHub's login). */
  username: string | null
  firstName: string
  lastName: string
  /** The values of the provider's `groups_claim`, or null when it has none or is not set. */
  groups: string[] | null
  /** The provider's session id (`sid`), for back-channel logout. */
  sid: string | null
}

/** What the browser's state cookie keeps between the redirect and the callback. */
export interface PendingAuthorization {
  state: string
  /** For OpenID Connect; null for GitHub. */
  nonce: string | null
  codeVerifier: string
}

interface Cached<T> {
  value: T
  expires: number
}

const discovered = new Map<string, Cached<oauth.AuthorizationServer>>()
const keySets = new Map<string, Cached<JSONWebKeySet> & { fetched: number }>()

/** oauth4webapi's options for a provider: plain http is allowed only for loopback issuers. */
function httpOptions(provider: SsoProvider) {
  return {
    [oauth.allowInsecureRequests]: provider.issuer.protocol === 'http:',
    signal: () => AbortSignal.timeout(PROVIDER_TIMEOUT_MS),
  }
}

function clientOf(provider: SsoProvider): oauth.Client {
  return { client_id: provider.clientId }
}

function clientAuth(provider: SsoProvider): oauth.ClientAuth {
  if (provider.clientSecret === null) return oauth.None()
  // GitHub reads the secret from the form body; OpenID providers all accept Basic.
  return provider.kind === 'github'
    ? oauth.ClientSecretPost(provider.clientSecret)
    : oauth.ClientSecretBasic(provider.clientSecret)
}

/** The provider's metadata: discovered (cached), or GitHub's own endpoints. */
export async function metadataOf(
  provider: SsoProvider,
  now: number,
): Promise<oauth.AuthorizationServer> {
  if (provider.kind === 'github') {
    const base = provider.issuer.href.replace(/\/$/, '')
    return {
      issuer: base,
      authorization_endpoint: `${base}/login/oauth/authorize`,
      token_endpoint: `${base}/login/oauth/access_token`,
    }
  }
  const key = provider.issuer.href
  const cached = discovered.get(key)
  if (cached && cached.expires > now) return cached.value
  try {
    const response = await oauth.discoveryRequest(provider.issuer, {
      algorithm: 'oidc',
      ...httpOptions(provider),
    })
    const metadata = await oauth.processDiscoveryResponse(provider.issuer, response)
    discovered.set(key, { value: metadata, expires: now + DISCOVERY_TTL_MS })
    return metadata
  } catch (error) {
    console.error('OpenID discovery failed', { provider: provider.id, error: String(error) })
    throw new ProviderError('The identity provider could not be reached.')
  }
}

/** The provider's JWKS, cached; `refresh` fetches it again unless it was fetched a minute ago. */
async function keySetOf(
  provider: SsoProvider,
  metadata: oauth.AuthorizationServer,
  now: number,
  refresh = false,
): Promise<JSONWebKeySet> {
  const uri = metadata.jwks_uri
  if (!uri) throw new ProviderError('The identity provider publishes no keys.')
  const cached = keySets.get(uri)
  if (cached && cached.expires > now && !(refresh && now - cached.fetched > JWKS_REFETCH_MS)) {
    return cached.value
  }
  try {
    const response = await fetch(uri, {
      headers: { Accept: 'application/json' },
      signal: AbortSignal.timeout(PROVIDER_TIMEOUT_MS),
    })
    const body: unknown = response.ok ? await response.json() : null
    if (!isObject(body) || !Array.isArray(body.keys)) throw new Error(`status ${response.status}`)
    const value = body as unknown as JSONWebKeySet
    keySets.set(uri, { value, expires: now + JWKS_TTL_MS, fetched: now })
    return value
  } catch (error) {
    console.error('Fetching the JWKS failed', { provider: provider.id, error: String(error) })
    if (cached) return cached.value
    throw new ProviderError('The identity provider could not be reached.')
  }
}

/** Asymmetric algorithms only: `none` and HMAC (keyed by the client secret) are never accepted. */
const SIGNING_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
]

/**
 * Verifies a JWT's signature with the provider's keys (refetched once for an unknown key) and
 * returns its claims; the caller checks them. Throws `ProviderError`.
 */
export async function verifySignature(
  provider: SsoProvider,
  metadata: oauth.AuthorizationServer,
  jwt: string,
  now: number,
): Promise<Record<string, unknown>> {
  const check = async (keys: JSONWebKeySet) =>
    jwtVerify(jwt, createLocalJWKSet(keys), {
      algorithms: SIGNING_ALGORITHMS,
      currentDate: new Date(now),
    })
  try {
    return (await check(await keySetOf(provider, metadata, now))).payload
  } catch (error) {
    const code = (error as { code?: string }).code
    if (code !== 'ERR_JWKS_NO_MATCHING_KEY') throw new ProviderError(`Invalid token (${code}).`)
  }
  try {
    return (await check(await keySetOf(provider, metadata, now, true))).payload
  } catch (error) {
    if (error instanceof ProviderError) throw error
    throw new ProviderError(`Invalid token (${(error as { code?: string }).code}).`)
  }
}

/** A new state, nonce and PKCE verifier for one authorization request. */
export function newAuthorization(provider: SsoProvider): PendingAuthorization {
  return {
    state: oauth.generateRandomState(),
    nonce: provider.kind === 'oidc' ? oauth.generateRandomNonce() : null,
    codeVerifier: oauth.generateRandomCodeVerifier(),
  }
}

/** Default scopes: the profile and e-mail (GitHub: the user's e-mail addresses). */
function scopesOf(provider: SsoProvider): string {
  if (provider.scopes.length > 0) {
    const scopes = new Set(provider.scopes)
    if (provider.kind === 'oidc') scopes.add('openid')
    return [...scopes].join(' ')
  }
  return provider.kind === 'github' ? 'read:user user:email' : 'openid email profile'
}

/** The URL of the provider's authorization endpoint for this request (PKCE S256). */
export async function authorizationUrl(
  provider: SsoProvider,
  pending: PendingAuthorization,
  redirectUri: string,
  now: number,
): Promise<URL> {
  const metadata = await metadataOf(provider, now)
  if (!metadata.authorization_endpoint) {
    throw new ProviderError('The identity provider has no authorization endpoint.')
  }
  const url = new URL(metadata.authorization_endpoint)
  url.searchParams.set('client_id', provider.clientId)
  url.searchParams.set('redirect_uri', redirectUri)
  url.searchParams.set('response_type', 'code')
  url.searchParams.set('scope', scopesOf(provider))
  url.searchParams.set('state', pending.state)
  url.searchParams.set(
    'code_challenge',
    await oauth.calculatePKCECodeChallenge(pending.codeVerifier),
  )
  url.searchParams.set('code_challenge_method', 'S256')
  if (pending.nonce !== null) url.searchParams.set('nonce', pending.nonce)
  return url
}

/** The error a provider sent back to the callback, in words. */
function providerRefusal(error: unknown): ProviderError | null {
  if (error instanceof oauth.AuthorizationResponseError) {
    const description = error.error_description ? `: ${error.error_description}` : ''
    return new ProviderError(
      `The identity provider refused the sign-in (${error.error}${description}).`,
    )
  }
  if (error instanceof oauth.ResponseBodyError) {
    return new ProviderError(`The identity provider refused the code (${error.error}).`)
  }
  return null
}

/**
 * The callback: checks the state against the browser's, exchanges the code (with the PKCE
 * verifier), checks the ID token (signature by the provider's JWKS, `iss`, `aud`, `nonce`,
 * expiry) or asks GitHub's API, and returns who signed in. Throws `ProviderError`.
 */
export async function completeAuthorization(
  provider: SsoProvider,
  pending: PendingAuthorization,
  callback: URL,
  redirectUri: string,
  now: number,
): Promise<VerifiedIdentity> {
  const metadata = await metadataOf(provider, now)
  const client = clientOf(provider)
  try {
    const parameters = oauth.validateAuthResponse(metadata, client, callback, pending.state)
    const response = await oauth.authorizationCodeGrantRequest(
      metadata,
      client,
      clientAuth(provider),
      parameters,
      redirectUri,
      pending.codeVerifier,
      httpOptions(provider),
    )
    if (provider.kind === 'github') {
      const tokens = await oauth.processAuthorizationCodeResponse(metadata, client, response)
      return await githubIdentity(provider, tokens.access_token)
    }
    const tokens = await oauth.processAuthorizationCodeResponse(metadata, client, response, {
      expectedNonce: pending.nonce ?? oauth.expectNoNonce,
      requireIdToken: true,
    })
    const claims = oauth.getValidatedIdTokenClaims(tokens)
    if (!claims || !tokens.id_token) throw new ProviderError('The provider sent no ID token.')
    // oauth4webapi checked iss, aud, azp, nonce, exp and iat; the signature is checked here.
    await verifySignature(provider, metadata, tokens.id_token, now)
    return oidcIdentity(provider, claims)
  } catch (error) {
    if (error instanceof ProviderError) throw error
    const refusal = providerRefusal(error)
    if (refusal) throw refusal
    console.error('SSO callback refused', { provider: provider.id, error: String(error) })
    throw new ProviderError("The identity provider's answer did not validate.")
  }
}

function text(value: unknown): string {
  return typeof value === 'string' ? value.trim() : ''
}

/** The values of a groups claim: an array of names, or one name. */
function groupsOf(value: unknown): string[] {
  if (typeof value === 'string') return value ? [value] : []
  if (!Array.isArray(value)) return []
  return value.filter((item): item is string => typeof item === 'string' && item.trim() !== '')
}

function oidcIdentity(provider: SsoProvider, claims: oauth.IDToken): VerifiedIdentity {
  const verified = claims.email_verified === true || claims.email_verified === 'true'
  return {
    subject: claims.sub,
    email: text(claims.email),
    emailVerified: verified && text(claims.email) !== '',
    username: text(claims.preferred_username) || null,
    firstName: text(claims.given_name),
    lastName: text(claims.family_name),
    groups: provider.groupsClaim === null ? null : groupsOf(claims[provider.groupsClaim]),
    sid: text(claims.sid) || null,
  }
}

/** A GET of GitHub's REST API with the user's token. */
async function githubApi(provider: SsoProvider, path: string, token: string): Promise<unknown> {
  const base = (provider.apiUrl as URL).href.replace(/\/$/, '')
  const response = await fetch(`${base}${path}`, {
    headers: {
      Accept: 'application/vnd.github+json',
      Authorization: `Bearer ${token}`,
      'User-Agent': 'sessiongate',
      'X-GitHub-Api-Version': '2022-11-28',
    },
    signal: AbortSignal.timeout(PROVIDER_TIMEOUT_MS),
  })
  if (!response.ok) throw new ProviderError(`GitHub's API answered ${response.status}.`)
  return response.json()
}

/**
 * GitHub has no ID token: the user comes from `GET /user` (its numeric id is the subject: logins
 * can be renamed) and the e-mail from `GET /user/emails`, the primary one and whether GitHub
 * verified it. With `groups_claim`, the user's organisations (`GET /user/orgs`, needs `read:org`)
 * become groups.
 */
async function githubIdentity(provider: SsoProvider, token: string): Promise<VerifiedIdentity> {
  const user = await githubApi(provider, '/user', token)
  if (!isObject(user) || !Number.isSafeInteger(user.id)) {
    throw new ProviderError('GitHub did not say who signed in.')
  }
  const emails = await githubApi(provider, '/user/emails', token)
  const primary = Array.isArray(emails)
    ? emails.find((entry) => isObject(entry) && entry.primary === true)
    : undefined
  const [first = '', ...rest] = text(user.name).split(/\s+/)
  let groups: string[] | null = null
  if (provider.groupsClaim !== null) {
    const orgs = await githubApi(provider, '/user/orgs', token)
    groups = Array.isArray(orgs)
      ? orgs.map((org) => (isObject(org) ? text(org.login) : '')).filter(Boolean)
      : []
  }
  return {
    subject: String(user.id),
    email: isObject(primary) ? text(primary.email) : '',
    emailVerified: isObject(primary) && primary.verified === true,
    username: text(user.login) || null,
    firstName: first,
    lastName: rest.join(' '),
    groups,
    sid: null,
  }
}
