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
import {
  type CachedSession,
  copyOf,
  MAX_CACHE_COOKIE_BYTES,
  recordOfCopy,
  type SessionCacheOptions,
  sessionCacheCookieName,
} from './cache'
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
  /** The session cache (SESSION_CACHE_SECONDS); default none: every request reads KV. */
  cache?: SessionCacheOptions
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

/** Methods that never change anything: only they may be given a session-cache copy. */
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD'])

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
  const cache = options.cache
  const cacheName = sessionCacheCookieName(cookieName)

  /**
   * The cache cookie for a copy of `record` under `kvKey`, read from KV at `now`, or null when
   * it would be too big. The copy dates from the read, not from the response: a revocation while
   * the route ran (a slow origin, a long poll) must outdate it.
   */
  async function cacheCookie(kvKey: string, record: SessionRecord, now: number, secure: boolean) {
    if (!cache || !record.user) return null
    const copy = copyOf(record, record.user, cache.seconds, now)
    const value = await cache.signer.seal(kvKey, copy)
    if (value.length > MAX_CACHE_COOKIE_BYTES) return null
    return serializeCookie(cacheName, value, {
      maxAge: Math.max(1, Math.floor((copy.expiresAt - now) / 1000)),
      now,
      domain,
      secure,
      httpOnly: true,
      sameSite: 'Lax',
    })
  }

  /**
   * Whether the client should get a new copy: it holds none, or one half gone. Its seal is not
   * checked here (that costs an HMAC on every such request): a copy that is forged, for another
   * session or outdated is refused where it would be used, and replaced there.
   */
  function wantsCopy(presented: string | undefined, options: SessionCacheOptions): boolean {
    const expiresAt = options.signer.peekExpiresAt(presented)
    return expiresAt === null || expiresAt - settings.now() < (options.seconds * 1000) / 2
  }

  return async function session(c, next) {
    const store = new SessionStore(c.env.SESSIONS, signer, settings.now)
    const key = parseSessionKey(getCookie(c, cookieName))
    const kvKey = key ? await kvKeyFor(key) : null
    const presentedCopy = cache ? getCookie(c, cacheName) : undefined

    // The session cache: a safe request to an ordinary route may stand on a valid copy, bound to
    // this session key, instead of the KV read. Such a session is read-only: nothing is saved.
    let copy: CachedSession | null = null
    let copyRefused = false
    if (cache && kvKey && presentedCopy !== undefined && cache.isCacheable(c)) {
      copyRefused = true
      copy = await cache.signer.open(kvKey, presentedCopy, settings.now())
      if (copy && cache.revocations.outdates(copy.user.id, copy.issuedAt)) copy = null
    }
    if (copy) {
      const cached = new Session(settings, key, kvKey, recordOfCopy(copy))
      c.set('session', cached)
      await next()
      addVary(c.res.headers, 'Cookie')
      return
    }

    const readAt = settings.now()
    const record = kvKey ? await store.load(kvKey) : null
    const current = new Session(settings, key, kvKey, record)
    c.set('session', current)

    await next()

    const secure = c.var.site.secure
    const headers = c.res.headers
    if (current.accessed) addVary(headers, 'Cookie')

    if (cache && c.res.status < 500) {
      // Logout, a revocation, a sign-in as someone else: a copy must never outlive its session
      // or its snapshot. A valid copy is replaced below when the session was saved; one that
      // was presented and not used (expired, outdated) is replaced from the record just read.
      const signedIn = current.user !== null && !current.isEmpty
      // A session this request ended or left (logout, its own revocation, a sign-in as someone
      // else) outdates every copy of that user's issued so far in this isolate: a copy replayed
      // with the old cookie reads KV, and finds nothing.
      if (record?.user && (current.loadedKvKey !== kvKey || current.user?.id !== record.user.id)) {
        cache.revocations.note(record.user.id, settings.now())
      }
      if (!signedIn && presentedCopy !== undefined) {
        headers.append('Set-Cookie', deletionCookie(cacheName, { domain, secure }))
      } else if (
        signedIn &&
        record &&
        kvKey &&
        !current.modified &&
        SAFE_METHODS.has(c.req.method) &&
        // A safe request that read KV anyway (/auth/me, a staff route, a copy refused) hands
        // out a fresh copy when the client holds none that is good for half its life more.
        (copyRefused || wantsCopy(presentedCopy, cache))
      ) {
        const cookie = await cacheCookie(kvKey, record, readAt, secure)
        if (cookie) headers.append('Set-Cookie', cookie)
      }
    }

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
      if (cache && current.user) {
        const cookie = await cacheCookie(kvKey, record, readAt, secure)
        headers.append('Set-Cookie', cookie ?? deletionCookie(cacheName, { domain, secure }))
      }
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
