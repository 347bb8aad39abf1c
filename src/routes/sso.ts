/**
 * The single sign-on endpoints of `/auth`: the round trip through a provider
 * (`/sso/{id}/login`, `/sso/{id}/callback`), back-channel logout, and the user's identities.
 * Thin: the rules live in src/sso and the sign-in pipeline (src/auth/sign-in.ts). Every failure
 * of the round trip is the sign-in page with the reason (400/403), never a 500.
 */
import { type Context, Hono } from 'hono'
import { getCookie } from 'hono/cookie'
import { actorOf } from '../auth'
import type { Config, SsoProvider } from '../config'
import type { AppEnv } from '../context'
import { ApiError, NOT_AUTHENTICATED, NotFound } from '../errors'
import { confirmPassword } from '../mfa/reauthenticate'
import {
  authorizationUrl,
  completeAuthorization,
  newAuthorization,
  ProviderError,
} from '../sso/client'
import { backchannelLogout, validateLogoutToken } from '../sso/logout'
import { listIdentities, unlinkIdentity } from '../sso/service'
import { STATE_COOKIE, STATE_SECONDS, StateCookie } from '../sso/state'
import { constantTimeEqual } from '../utils/crypto'
import { isObject } from '../utils/json'
import { requireUser, signInRequest, throttleFor } from './auth'
import { readBody, readObject } from './body'
import { route } from './methods'
import { safeRedirect } from './redirect'
import { secondStepPage, signInAgain } from './sign-in'

type Ctx = Context<AppEnv>

const BAD_STATE =
  'The sign-in could not be matched to this browser (missing or expired state). Please try again.'

/** The path of a provider's back-channel logout endpoint: exempt from the CSRF checks. */
export const BACKCHANNEL_LOGOUT_PATH = /^\/auth\/sso\/[^/]+\/backchannel-logout$/

/** Builds the SSO routes, mounted on `/auth`. */
export function ssoRoutes(config: Config): Hono<AppEnv> {
  const app = new Hono<AppEnv>()
  const providers = new Map(config.ssoProviders.map((provider) => [provider.id, provider]))
  const states = new StateCookie([config.secretKey, ...config.secretKeyFallbacks])

  function providerOf(c: Ctx): SsoProvider {
    const provider = providers.get(c.req.param('id') ?? '')
    if (!provider) throw new NotFound()
    return provider
  }

  /** `<base>/auth/sso/{id}/callback`: registered with the provider as the redirect URI. */
  const redirectUri = (c: Ctx, provider: SsoProvider) =>
    `${c.var.site.origin}/auth/sso/${encodeURIComponent(provider.id)}/callback`

  /**
   * Starts the round trip through the provider: the state cookie, then 302 to its authorization
   * endpoint; the sign-in page with 502 when the provider cannot be reached.
   */
  async function start(c: Ctx, provider: SsoProvider, next: string, connect: number | null) {
    const now = c.var.accounts.now()
    const pending = newAuthorization(provider)
    let url: URL
    try {
      url = await authorizationUrl(provider, pending, redirectUri(c, provider), now)
    } catch (error) {
      if (!(error instanceof ProviderError)) throw error
      return signInAgain(c, config, next, 502, error.message)
    }
    const expires = now + STATE_SECONDS * 1000
    const state = { ...pending, provider: provider.id, next, expires, connect }
    c.header('Set-Cookie', await states.serialize(state, now, c.var.site.secure), {
      append: true,
    })
    return c.redirect(url.href, 302)
  }

  route(app, '/sso/:id/login', {
    // Only a safe path is kept in the state cookie (anything else is `/`).
    GET: (c) => start(c, providerOf(c), safeRedirect(c.req.query('next') ?? ''), null),
  })

  route(app, '/sso/:id/connect', {
    // Adding a way into the account asks for the password again, as adding a factor does.
    POST: async (c) => {
      const provider = providerOf(c)
      const user = await c.var.accounts.users.getById(requireUser(c).id)
      if (!user) throw NOT_AUTHENTICATED
      const body = await readObject(c)
      await confirmPassword(
        { accounts: c.var.accounts, throttle: throttleFor(c, config), actor: actorOf(c) },
        user,
        body.password,
      )
      return start(c, provider, safeRedirect(body.next ?? ''), user.id)
    },
  })

  route(app, '/sso/:id/callback', {
    GET: async (c) => {
      const provider = providerOf(c)
      const now = c.var.accounts.now()
      const state = await states.read(getCookie(c, STATE_COOKIE), now)
      // A state is used once, whatever happens next.
      c.header('Set-Cookie', states.deletion(c.var.site.secure), { append: true })
      const next = state?.next ?? ''
      const returned = c.req.query('state') ?? ''
      if (!state || state.provider !== provider.id || !constantTimeEqual(returned, state.state)) {
        return signInAgain(c, config, next, 400, BAD_STATE)
      }
      try {
        const identity = await completeAuthorization(
          provider,
          state,
          new URL(c.req.url),
          redirectUri(c, provider),
          now,
        )
        const signedIn = await signInRequest(c, config, {
          kind: 'sso',
          provider,
          identity,
          connect: state.connect,
        })
        if ('mfa_required' in signedIn) return secondStepPage(c, next, signedIn.methods)
      } catch (error) {
        if (error instanceof ProviderError) return signInAgain(c, config, next, 400, error.message)
        if (error instanceof ApiError && [400, 403, 429].includes(error.status)) {
          const status = error.status as 400 | 403 | 429
          return signInAgain(c, config, next, status, error.message, error.headers)
        }
        throw error
      }
      return c.redirect(safeRedirect(next), 302)
    },
  })

  route(app, '/sso/:id/backchannel-logout', {
    POST: async (c) => {
      const provider = providerOf(c)
      // The logout endpoint's answers are never cached (Back-Channel Logout 1.0, 2.8), and its
      // errors are OAuth's, not DRF's.
      const noStore = { 'Cache-Control': 'no-store' }
      const invalid = (description: string) =>
        c.json({ error: 'invalid_request', error_description: description }, 400, noStore)
      const body = await readBody(c).catch(() => null)
      const token = isObject(body) ? body.logout_token : undefined
      if (typeof token !== 'string' || token === '') return invalid('logout_token is required.')
      let claims: Awaited<ReturnType<typeof validateLogoutToken>>
      try {
        claims = await validateLogoutToken(provider, token, c.var.accounts.now())
      } catch (error) {
        if (error instanceof ProviderError) return invalid(error.message)
        throw error
      }
      await backchannelLogout(c.var.accounts, provider, claims, actorOf(c))
      return c.body(null, 200, noStore)
    },
  })

  route(app, '/identities', {
    GET: async (c) => {
      const user = c.var.user
      if (!user) throw NOT_AUTHENTICATED
      return c.json({ identities: await listIdentities(c.var.accounts, user.id) })
    },
  })

  route(app, '/identities/:id', {
    DELETE: async (c) => {
      const snapshot = c.var.user
      if (!snapshot) throw NOT_AUTHENTICATED
      const user = await c.var.accounts.users.getById(snapshot.id)
      if (!user) throw NOT_AUTHENTICATED
      await unlinkIdentity(c.var.accounts, user, c.req.param('id') ?? '', actorOf(c))
      return c.body(null, 204)
    },
  })

  return app
}
