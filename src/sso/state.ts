/**
 * The state of a sign-in between the redirect to the provider and its callback, bound to the
 * browser: a short-lived cookie, HttpOnly and signed with SECRET_KEY, holding the `state`, the
 * `nonce`, the PKCE verifier, the provider and `next`.
 *
 * A cookie rather than the session: starting a sign-in then writes nothing to KV (no anonymous
 * session for every visitor who clicks a button), and the callback does not depend on a KV write
 * made seconds earlier, which another location may not see yet (KV is eventually consistent for
 * up to 60 s). `SameSite=Lax` lets it come back with the provider's top-level redirect, and not
 * with any cross-site subrequest. The signature stops a forged cookie; the `state` in it must
 * match the callback's, so a callback started in another browser (login CSRF) is refused.
 */
import { deletionCookie, serializeCookie } from '../utils/cookies'
import { HmacSigner, openJson, sealJson } from '../utils/crypto'
import { isObject } from '../utils/json'
import type { PendingAuthorization } from './client'

/** The cookie's name. */
export const STATE_COOKIE = 'sso_state'
/** How long the round trip through the provider may take: ten minutes. */
export const STATE_SECONDS = 600

/** What the cookie holds. */
export interface SignInState extends PendingAuthorization {
  provider: string
  /** Where to go once signed in, as given (checked again when used). */
  next: string
  /** Until when (ms). */
  expires: number
  /**
   * The user who asked to connect this provider to their account, having typed their password
   * (`POST /auth/sso/{id}/connect`); null for a sign-in.
   */
  connect: number | null
}

function isSignInState(value: unknown): value is SignInState {
  return (
    isObject(value) &&
    typeof value.provider === 'string' &&
    typeof value.state === 'string' &&
    (value.nonce === null || typeof value.nonce === 'string') &&
    typeof value.codeVerifier === 'string' &&
    typeof value.next === 'string' &&
    typeof value.expires === 'number' &&
    (value.connect === null || Number.isSafeInteger(value.connect))
  )
}

/** Signs and reads the state cookie. */
export class StateCookie {
  readonly #signer: HmacSigner

  /** @param secrets SECRET_KEY first, then SECRET_KEY_FALLBACKS. */
  constructor(secrets: readonly string[]) {
    this.#signer = new HmacSigner('sessiongate.sso.state', secrets)
  }

  /** The `Set-Cookie` value carrying `state`. */
  async serialize(state: SignInState, now: number, secure: boolean): Promise<string> {
    return serializeCookie(STATE_COOKIE, await sealJson(this.#signer, state), {
      maxAge: STATE_SECONDS,
      now,
      httpOnly: true,
      secure,
      sameSite: 'Lax',
    })
  }

  /** The `Set-Cookie` value that deletes it: a state is used once. */
  deletion(secure: boolean): string {
    return deletionCookie(STATE_COOKIE, { httpOnly: true, secure, sameSite: 'Lax' })
  }

  /** The state in the cookie's value, or null when it is missing, forged, or expired. */
  async read(value: string | undefined, now: number): Promise<SignInState | null> {
    const state = await openJson(this.#signer, value)
    return isSignInState(state) && state.expires > now ? state : null
  }
}
