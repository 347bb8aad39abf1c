/**
 * The `/auth/*` JSON API. Thin: every rule lives in accounts/, auth/, session/, csrf/ and
 * throttle/; a handler reads the request, makes one call, and answers.
 */
import { type Context, Hono } from 'hono'
import { toSnapshot, type UserRow } from '../accounts/users'
import { actorOf } from '../auth'
import { LAST_SEEN_INTERVAL_MS } from '../auth/last-seen'
import { logout } from '../auth/login'
import { changePassword, type Factor, type SignInContext, signIn } from '../auth/sign-in'
import type { Config } from '../config'
import type { AppEnv } from '../context'
import { NOT_AUTHENTICATED, NotFound, PermissionDenied } from '../errors'
import type { Gateway } from '../gateway'
import type { SecondFactorMethod } from '../mfa/repository'
import type { UserSnapshot } from '../session'
import { LoginThrottle } from '../throttle'
import { inBackground } from '../utils/background'
import { isObject } from '../utils/json'
import { fieldError, readObject, requiredString } from './body'
import { mailRoutes } from './mail'
import { route } from './methods'
import { mfaRoutes } from './mfa'
import { safeRedirect } from './redirect'
import { formLogin, formNext, signInPage } from './sign-in'
import { ssoRoutes } from './sso'
import { tokenRoutes } from './tokens'

/** The throttle for this request, from the settings. */
export function throttleFor(c: Context<AppEnv>, config: Config): LoginThrottle {
  return new LoginThrottle(c.env.DB, {
    pairLimit: config.loginFailureLimit,
    ipLimit: config.loginFailureIpLimit,
    windowSeconds: config.loginFailureWindow,
    secondFactorLimit: config.mfaFailureLimit,
    now: c.var.accounts.now,
  })
}

/** What a sign-in answers: the user, or which second factors may complete it. */
export type SignInResponse =
  | { user: UserSnapshot }
  | { mfa_required: true; methods: SecondFactorMethod[] }

/**
 * Runs the sign-in pipeline for this request, then what a signed-in response needs: a new CSRF
 * secret (Django's `rotate_token`) and `c.var.user`. Shared by the JSON API and the HTML form.
 */
export async function signInRequest(
  c: Context<AppEnv>,
  config: Config,
  factor: Factor,
): Promise<SignInResponse> {
  const result = await signIn(signInContext(c, config), factor)
  if (result.status === 'second-factor') {
    // A different user's session was flushed for the pending step.
    if (c.var.session.user === null) c.set('user', null)
    return { mfa_required: true, methods: result.methods }
  }
  return { user: signedIn(c, result.user) }
}

/** What the sign-in pipeline works with, from this request. */
export function signInContext(c: Context<AppEnv>, config: Config): SignInContext {
  return {
    accounts: c.var.accounts,
    session: c.var.session,
    throttle: throttleFor(c, config),
    actor: actorOf(c),
    emailVerification: config.emailVerification,
    defer: (work) => inBackground(c, work),
  }
}

/**
 * What a response to a completed sign-in needs: a new CSRF secret (Django's `rotate_token`) and
 * `c.var.user`. Returns the user as USER.
 */
export function signedIn(c: Context<AppEnv>, user: UserRow): UserSnapshot {
  c.var.csrf.rotate()
  const snapshot = toSnapshot(user)
  c.set('user', snapshot)
  return snapshot
}

/** Most events one page of `GET /auth/events` holds. */
const MAX_EVENTS = 200

/** A whole-number query parameter from 1 to `max`, its default when absent, or a 400. */
function queryInteger<T extends number | null>(
  raw: string | undefined,
  name: string,
  fallback: T,
  max: number,
): number | T {
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!/^\d+$/.test(raw) || value < 1 || value > max) {
    fieldError(name, `Ensure this value is a whole number from 1 to ${max}.`)
  }
  return value
}

/** The logged-in user, or a 401. */
export function requireUser(c: Context<AppEnv>): UserSnapshot {
  const user = c.var.user
  if (!user) throw NOT_AUTHENTICATED
  return user
}

/** The application's part of the session data: keys without a leading underscore. */
function applicationData(data: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(data).filter(([key]) => !key.startsWith('_')))
}

/**
 * What an API token may reach under `/auth`: reading who it is, forward-auth, tokens, events and
 * sessions. The rest acts on the browser session itself (sign-in, logout, the session's data, the
 * password and second factors, which also ask for a session's proof): a token, however leaked,
 * cannot change how its user signs in.
 */
const TOKEN_PATHS = /^\/auth\/(?:csrf|me|verify|events|tokens(?:\/[^/]*)?|sessions(?:\/[^/]*)?)$/

/** The 403 of a token-authenticated request to a session-only endpoint. */
const SESSION_REQUIRED = 'This endpoint needs a signed-in session, not an API token.'

/** Builds the `/auth` sub-app. */
export function authRoutes(config: Config, gateway: Gateway): Hono<AppEnv> {
  const app = new Hono<AppEnv>()

  app.use('*', async function sessionOnly(c, next) {
    if (c.var.credential?.kind === 'token' && !TOKEN_PATHS.test(c.req.path)) {
      throw new PermissionDenied(SESSION_REQUIRED, 'session_required')
    }
    await next()
  })

  route(app, '/csrf', {
    GET: (c) => c.json({ csrfToken: c.var.csrf.getToken() }),
  })

  route(app, '/login', {
    GET: (c) => signInPage(c, config),
    POST: async (c) => {
      // A form with `next` is the HTML sign-in page's: it answers with a redirect or the form.
      const next = await formNext(c)
      if (next !== null) return formLogin(c, config, next)
      const body = await readObject(c)
      const username = requiredString(body, 'username')
      const password = requiredString(body, 'password')
      return c.json(await signInRequest(c, config, { kind: 'password', username, password }))
    },
  })

  route(app, '/logout', {
    POST: async (c) => {
      const everywhere = ['1', 'true', 'yes'].includes(c.req.query('everywhere') ?? '')
      const next = await formNext(c)
      await logout(c.var.accounts, c.var.session, c.var.user, actorOf(c), everywhere)
      c.set('user', null)
      if (next !== null) return c.redirect(safeRedirect(next), 302)
      return c.json({ detail: 'Successfully logged out.' })
    },
  })

  route(app, '/verify', {
    GET: gateway.verify,
  })

  route(app, '/me', {
    GET: (c) => c.json({ user: requireUser(c), amr: c.var.credential?.amr ?? [] }),
  })

  route(app, '/session', {
    GET: (c) => c.json({ data: applicationData(c.var.session.entries()) }),
    PATCH: async (c) => {
      const body = await readObject(c)
      const changes = body.data
      if (!isObject(changes)) {
        fieldError('data', 'Expected a dictionary of items.')
      }
      const reserved = Object.keys(changes).filter((key) => key.startsWith('_'))
      if (reserved.length > 0) {
        fieldError('data', `Keys starting with "_" are reserved: ${reserved.join(', ')}.`)
      }
      const session = c.var.session
      for (const [key, value] of Object.entries(changes)) {
        if (value === null) session.delete(key)
        else session.set(key, value)
      }
      return c.json({ data: applicationData(session.entries()) })
    },
  })

  route(app, '/password', {
    POST: async (c) => {
      const user = requireUser(c)
      const body = await readObject(c)
      const oldPassword = requiredString(body, 'old_password')
      const newPassword = requiredString(body, 'new_password')
      await changePassword(
        {
          accounts: c.var.accounts,
          session: c.var.session,
          throttle: throttleFor(c, config),
          actor: actorOf(c),
        },
        user,
        oldPassword,
        newPassword,
      )
      return c.json({ detail: 'New password has been saved.' })
    },
  })

  route(app, '/sessions', {
    GET: async (c) => {
      const user = requireUser(c)
      const { index, now } = c.var.accounts
      // Rows are dropped only well after their recorded expiry: a row's expiry may lag its
      // record's by up to one age plus the last_seen interval (see SessionIndex.prune).
      await index.prune(user.id, now() - config.sessionCookieAge * 1000 - LAST_SEEN_INTERVAL_MS)
      const rows = await index.listForUser(user.id, now())
      const iso = (ms: number) => new Date(ms).toISOString()
      return c.json({
        sessions: rows.map((row) => ({
          id: row.id,
          created: iso(row.created_at),
          last_seen: iso(row.last_seen),
          expires: iso(row.expires_at),
          user_agent: row.user_agent,
          current: row.id === c.var.session.id,
        })),
      })
    },
  })

  route(app, '/sessions/:id', {
    DELETE: async (c) => {
      const user = requireUser(c)
      const accounts = c.var.accounts
      const row = await accounts.index.getForUser(c.req.param('id') ?? '', user.id)
      if (!row) throw new NotFound()
      await accounts.revokeSession(user, row, actorOf(c))
      if (row.id === c.var.session.id) {
        c.var.session.flush()
        c.set('user', null)
      }
      return c.body(null, 204)
    },
  })

  route(app, '/events', {
    GET: async (c) => {
      const user = requireUser(c)
      const limit = queryInteger(c.req.query('limit'), 'limit', 50, MAX_EVENTS)
      const before = queryInteger(c.req.query('before'), 'before', null, Number.MAX_SAFE_INTEGER)
      const rows = await c.var.accounts.events.forUser(user.id, limit, before)
      return c.json({
        events: rows.map((row) => ({
          id: row.id,
          at: row.at,
          type: row.type,
          ip: row.ip,
          user_agent: row.user_agent,
          detail: JSON.parse(row.detail),
        })),
      })
    },
  })

  app.route('/', mfaRoutes(config))
  app.route('/', tokenRoutes())
  app.route('/', mailRoutes(config))
  app.route('/', ssoRoutes(config))

  app.all('*', () => {
    throw new NotFound()
  })
  return app
}
