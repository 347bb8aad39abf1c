/**
 * OpenID Connect Back-Channel Logout 1.0: the provider POSTs a logout token (a JWT it signed)
 * when a user signs out there, and the sessions that sign-in made here end at once, through the
 * accounts service (index rows, then KV records: write-through revocation). The token's
 * signature is its authentication; no cookie or CSRF token comes with it.
 */
import type { Accounts, Actor } from '../accounts'
import type { SessionIndexRow } from '../auth/session-index'
import type { SsoProvider } from '../config'
import { isObject } from '../utils/json'
import { metadataOf, ProviderError, verifySignature } from './client'
import { IdentityRepository } from './repository'

/** The `events` member every logout token has (section 2.4). */
const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout'
/** How old a logout token may be (its `iat`), and how far ahead of our clock. */
const MAX_AGE_SECONDS = 5 * 60
const CLOCK_SKEW_SECONDS = 60

/** What a valid logout token names: a subject, a provider session, or both. */
export interface LogoutClaims {
  sub: string | null
  sid: string | null
}

/**
 * Validates a logout token as section 2.6 asks: the signature (the provider's JWKS), `iss`,
 * `aud` (our client id), `iat` (recent), the `events` claim, `sub` or `sid`, and no `nonce` (so
 * an ID token cannot pass as one). Throws `ProviderError`.
 */
export async function validateLogoutToken(
  provider: SsoProvider,
  token: string,
  now: number,
): Promise<LogoutClaims> {
  if (provider.kind !== 'oidc') throw new ProviderError('This provider has no back-channel logout.')
  const metadata = await metadataOf(provider, now)
  const claims = await verifySignature(provider, metadata, token, now)
  const refuse = (why: string): never => {
    throw new ProviderError(`Invalid logout token: ${why}.`)
  }
  if (claims.iss !== metadata.issuer) refuse('iss')
  const audience = Array.isArray(claims.aud) ? claims.aud : [claims.aud]
  if (!audience.includes(provider.clientId)) refuse('aud')
  const iat = claims.iat
  const seconds = now / 1000
  if (
    typeof iat !== 'number' ||
    iat > seconds + CLOCK_SKEW_SECONDS ||
    iat < seconds - MAX_AGE_SECONDS
  ) {
    refuse('iat')
  }
  const events = claims.events
  if (!isObject(events) || !isObject(events[LOGOUT_EVENT])) refuse('events')
  if ('nonce' in claims) refuse('nonce')
  const sub = typeof claims.sub === 'string' && claims.sub !== '' ? claims.sub : null
  const sid = typeof claims.sid === 'string' && claims.sid !== '' ? claims.sid : null
  if (sub === null && sid === null) refuse('sub or sid')
  return { sub, sid }
}

/**
 * Ends the sessions a valid logout token names (those signed in through this provider as that
 * subject, or in that provider session), with one `sso_logout` event per user. Returns how many
 * ended.
 */
export async function backchannelLogout(
  accounts: Accounts,
  provider: SsoProvider,
  claims: LogoutClaims,
  actor: Actor,
): Promise<number> {
  const ids = await new IdentityRepository(accounts.db).sessionsOf(
    provider.id,
    claims.sub,
    claims.sid,
  )
  const rows = await accounts.index.listByIds(ids)
  const byUser = new Map<number, SessionIndexRow[]>()
  for (const row of rows) byUser.set(row.user_id, [...(byUser.get(row.user_id) ?? []), row])
  for (const [userId, sessions] of byUser) {
    await accounts.endListed(sessions)
    const user = await accounts.users.getById(userId)
    await accounts.events.record(
      {
        type: 'sso_logout',
        user: user && { id: user.id, username: user.username },
        detail: {
          provider: provider.id,
          sessions: sessions.length,
          by: claims.sid === null ? 'sub' : 'sid',
        },
      },
      actor,
    )
  }
  return rows.length
}
