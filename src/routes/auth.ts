/**
 * The `/auth/*` JSON API. Thin: every rule lives in session/, auth/, csrf/ and throttle/.
 */
import { type Context, Hono } from 'hono'
import { checkPassword, makePassword } from '../accounts/passwords'
import { toSnapshot, type UserRow } from '../accounts/users'
import { validatePassword } from '../accounts/validators'
import { LAST_SEEN_INTERVAL_MS } from '../auth/last-seen'
import {
  authenticate,
  decoyPick,
  INVALID_CREDENTIALS,
  login,
  logout,
  updateSessionAuthHash,
} from '../auth/login'
import type { Config } from '../config'
import type { AppEnv } from '../context'
import { NOT_AUTHENTICATED, NotFound, ValidationError } from '../errors'
import type { Gateway } from '../gateway'
import type { UserSnapshot } from '../session'
import { LoginThrottle } from '../throttle'
import { isObject } from '../utils/json'
import { fieldError, readObject, requiredString } from './body'
import { route } from './methods'
import { safeRedirect } from './redirect'
import { formLogin, formNext, signInPage } from './sign-in'

/** The throttle for this request, from the settings. */
function throttleFor(c: Context<AppEnv>, config: Config): LoginThrottle {
  return new LoginThrottle(c.env.DB, {
    pairLimit: config.loginFailureLimit,
    ipLimit: config.loginFailureIpLimit,
    windowSeconds: config.loginFailureWindow,
    now: c.var.auth.now,
  })
}

/**
 * Throttle, authenticate and log in: the one path shared by the JSON API and the HTML sign-in
 * form. Returns the user; throws 429 (throttled) or 400 (`Unable to log in...`) otherwise.
 */
export async function attemptLogin(
  c: Context<AppEnv>,
  config: Config,
  typedUsername: string,
  password: string,
): Promise<UserSnapshot> {
  // Django's AuthenticationForm normalizes the username (NFKC), as usernames are stored.
  const username = typedUsername.normalize('NFKC')
  const attempt = await throttleFor(c, config).attempt(c.var.clientIp, username)
  const auth = c.var.auth
  // Two D1 round trips in all: the throttle's check with the user, then (after the hash) the
  // throttle's last word with the login's writes. D1 may be far from this location.
  const [locked, found, decoy] = await auth.db.batch([
    attempt.checkStatement(),
    auth.users.byUsernameStatement(username),
    auth.users.decoyHashStatement(await decoyPick(username, auth.secrets[0] as string)),
  ])
  attempt.refuseIfLocked(locked)
  const user = await authenticate(
    auth,
    (found?.results[0] as UserRow | undefined) ?? null,
    password,
    (decoy?.results[0] as { password: string } | undefined)?.password ?? null,
  )
  if (!user) {
    await attempt.recordFailure()
    throw new ValidationError(INVALID_CREDENTIALS)
  }
  const loggedIn = await login(
    auth,
    c.var.session,
    user,
    c.req.header('User-Agent') ?? '',
    attempt.successCheck(),
  )
  c.var.csrf.rotate()
  const snapshot = toSnapshot(loggedIn)
  c.set('user', snapshot)
  return snapshot
}

/** The logged-in user, or a 401. */
function requireUser(c: Context<AppEnv>): UserSnapshot {
  const user = c.var.user
  if (!user) throw NOT_AUTHENTICATED
  return user
}

/** The application's part of the session data: keys without a leading underscore. */
function applicationData(data: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(data).filter(([key]) => !key.startsWith('_')))
}

/** The current user's row; a user deleted mid-request is logged out. */
async function currentRow(c: Context<AppEnv>, user: UserSnapshot): Promise<UserRow> {
  const row = await c.var.auth.users.getById(user.id)
  if (!row) throw NOT_AUTHENTICATED
  return row
}

/** Builds the `/auth` sub-app. */
export function authRoutes(config: Config, gateway: Gateway): Hono<AppEnv> {
  const app = new Hono<AppEnv>()

  route(app, '/csrf', {
    GET: (c) => c.json({ csrfToken: c.var.csrf.getToken() }),
  })

  route(app, '/login', {
    GET: signInPage,
    POST: async (c) => {
      // A form with `next` is the HTML sign-in page's: it answers with a redirect or the form.
      const next = await formNext(c)
      if (next !== null) return formLogin(c, config, next)
      const body = await readObject(c)
      const username = requiredString(body, 'username')
      const password = requiredString(body, 'password')
      return c.json({ user: await attemptLogin(c, config, username, password) })
    },
  })

  route(app, '/logout', {
    POST: async (c) => {
      const everywhere = ['1', 'true', 'yes'].includes(c.req.query('everywhere') ?? '')
      const next = await formNext(c)
      await logout(c.var.auth, c.var.session, c.var.user?.id ?? null, everywhere)
      c.set('user', null)
      if (next !== null) return c.redirect(safeRedirect(next), 302)
      return c.json({ detail: 'Successfully logged out.' })
    },
  })

  route(app, '/verify', {
    GET: gateway.verify,
  })

  route(app, '/me', {
    GET: (c) => c.json({ user: requireUser(c) }),
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
      const auth = c.var.auth
      const attempt = await throttleFor(c, config).attempt(c.var.clientIp, user.username)
      await attempt.check()
      const row = await currentRow(c, user)
      const check = await checkPassword(auth.hashers, oldPassword, row.password)
      if (!check.valid) {
        // Guessing the old password through this form is throttled like a login.
        await attempt.recordFailure()
        fieldError(
          'old_password',
          'Your old password was entered incorrectly. Please enter it again.',
        )
      }
      // The right old password clears the pair's failures, like a login (or is a 429 if a burst
      // of concurrent guesses reached the limit meanwhile).
      await attempt.recordSuccess()
      const problems = validatePassword(newPassword, row)
      if (problems.length > 0) {
        throw new ValidationError(problems.join(' '), { new_password: problems })
      }
      const encoded = await makePassword(auth.hashers, newPassword)
      await auth.users.setPassword(row.id, encoded)
      // Every other session ends now; this one stays, under a new key (Django's
      // update_session_auth_hash).
      await auth.index.endSessions(auth.store, row.id, c.var.session.id)
      await updateSessionAuthHash(auth, c.var.session, { ...row, password: encoded })
      return c.json({ detail: 'New password has been saved.' })
    },
  })

  route(app, '/sessions', {
    GET: async (c) => {
      const user = requireUser(c)
      const auth = c.var.auth
      const now = auth.now()
      // Rows are dropped only well after their recorded expiry: a row's expiry may lag its
      // record's by up to one age plus the last_seen interval (see SessionIndex.prune).
      await auth.index.prune(user.id, now - config.sessionCookieAge * 1000 - LAST_SEEN_INTERVAL_MS)
      const rows = await auth.index.listForUser(user.id, now)
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
      const auth = c.var.auth
      const row = await auth.index.getForUser(c.req.param('id') ?? '', user.id)
      if (!row) throw new NotFound()
      await auth.index.endListed(auth.store, [row])
      if (row.id === c.var.session.id) {
        c.var.session.flush()
        c.set('user', null)
      }
      return c.body(null, 204)
    },
  })

  app.all('*', () => {
    throw new NotFound()
  })
  return app
}
