/**
 * Django's `SessionMiddleware` for Hono: reads the session before any route (one KV read), and
 * after the route saves it only when modified, deletes it when emptied, slides its expiry with
 * bounded writes, sets or deletes the cookie and adds `Vary: Cookie`.
 */
import type { Context, MiddlewareHandler } from 'hono'
import { getCookie } from 'hono/cookie'
import type { Env } from '../env'
import { PayloadTooLarge, Throttled } from '../errors'
import type { RequestVariables } from '../request'
import { inBackground } from '../utils/background'
import { addVary, deletionCookie, serializeCookie } from '../utils/cookies'
import { HmacSigner } from '../utils/crypto'
import { kvKeyFor, parseSessionKey } from './key'
import type { SessionRecord } from './record'
import { Session } from './session'
import { SessionStore } from './store'

export type { SessionRecord, UserSnapshot } from './record'
export { Session } from './session'
export { SessionStore } from './store'

/** What the session middleware sets on the context. */
export type SessionVariables = { session: Session }

export interface SessionMiddlewareOptions {
  /** Seals and checks the records: `recordSigner(SECRET_KEY and its fallbacks)`. */
  signer: HmacSigner
  /** SESSION_COOKIE_NAME. Default `sessionid`. */
  cookieName?: string
  /** SESSION_COOKIE_AGE in seconds. Default 1,209,600. */
  age?: number
  /** SESSION_COOKIE_DOMAIN. Default none. */
  domain?: string | null
  /** SESSION_EXPIRE_AT_BROWSER_CLOSE. Default false. */
  expireAtBrowserClose?: boolean
  /** The clock (ms). Default `Date.now`. */
  now?: () => number
  /**
   * Runs in the background after each record is written, with its KV key: the auth layer checks
   * there that no revocation ended the session while this request held it (see `confirmSaved`).
   */
  afterSave?: (c: Context, kvKey: string, record: SessionRecord) => Promise<void>
}

/**
 * The most a session's data may hold, as JSON. Every authenticated request reads the record, so
 * its size is on the hot path; KV would take up to 25 MiB.
 */
const MAX_SESSION_DATA_BYTES = 16 * 1024

const encoder = new TextEncoder()

function utf8Length(text: string): number {
  return encoder.encode(text).length
}

/** What seals session records (see record.ts); one per app, so keys are imported once. */
export function recordSigner(secrets: readonly string[]): HmacSigner {
  return new HmacSigner(RECORD_SALT, secrets)
}

const RECORD_SALT = 'sessiongate.session.record'

function warnAfterSave(error: unknown): void {
  console.warn('Checking a saved session failed', error)
}

/** Creates the session middleware; see `SessionMiddlewareOptions` for the defaults. */
export function sessionMiddleware(
  options: SessionMiddlewareOptions,
): MiddlewareHandler<{ Bindings: Env; Variables: RequestVariables & SessionVariables }> {
  const cookieName = options.cookieName ?? 'sessionid'
  const settings = {
    age: options.age ?? 1_209_600,
    expireAtBrowserClose: options.expireAtBrowserClose ?? false,
    now: options.now ?? Date.now,
  }
  const domain = options.domain ?? null
  const afterSave = options.afterSave
  const signer = options.signer

  return async function session(c, next) {
    const store = new SessionStore(c.env.SESSIONS, signer, settings.now)
    const key = parseSessionKey(getCookie(c, cookieName))
    const kvKey = key ? await kvKeyFor(key) : null
    const record = kvKey ? await store.load(kvKey) : null
    const current = new Session(settings, key, kvKey, record)
    c.set('session', current)

    await next()

    const secure = c.var.site.secure
    const headers = c.res.headers
    if (current.accessed) addVary(headers, 'Cookie')

    // A record left behind by cycleKey() or flush() is deleted even on an error response:
    // logout must never leave a usable record.
    await Promise.all([...current.obsoleteKvKeys].map((obsolete) => store.delete(obsolete)))

    if (current.isEmpty) {
      if (current.loadedKvKey) await store.delete(current.loadedKvKey)
      if (getCookie(c, cookieName) !== undefined) {
        headers.append('Set-Cookie', deletionCookie(cookieName, { domain, secure }))
      }
      return
    }
    // Like Django, an error response does not save the session.
    if (c.res.status >= 500) return

    if (current.modified) {
      const record = current.toRecord()
      if (utf8Length(JSON.stringify(record.data)) > MAX_SESSION_DATA_BYTES) {
        // Nothing is saved: the stored session keeps what it had.
        throw new PayloadTooLarge(MAX_SESSION_DATA_BYTES, 'Session data')
      }
      const kvKey = await kvKeyFor(current.key as string)
      try {
        await store.save(kvKey, record)
      } catch (error) {
        // KV takes one write per second per key; a client changing its session faster than
        // that is told to slow down rather than shown a 500.
        console.warn('Session write failed', error)
        throw new Throttled(1)
      }
      if (afterSave) inBackground(c, afterSave(c, kvKey, record).catch(warnAfterSave))
    } else if (current.needsRefresh()) {
      const record = current.toRecord()
      const kvKey = await kvKeyFor(current.key as string)
      // The sliding refresh is best-effort and off the response path: concurrent requests may
      // all try it, and KV allows one write per second per key.
      inBackground(
        c,
        store.save(kvKey, record).then(
          () => afterSave?.(c, kvKey, record).catch(warnAfterSave),
          (error) => console.warn('Refresh failed', error),
        ),
      )
    } else {
      return
    }
    headers.append(
      'Set-Cookie',
      serializeCookie(cookieName, current.key as string, {
        maxAge: current.getExpireAtBrowserClose() ? null : current.getExpiryAge(),
        now: settings.now(),
        domain,
        secure,
        httpOnly: true,
        sameSite: 'Lax',
      }),
    )
  }
}
