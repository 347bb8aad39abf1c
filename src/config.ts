/**
 * Every setting of sessiongate, read once from the Worker's `Env`, with its default and its
 * error. A bad value throws `ImproperlyConfigured` naming the setting, which the Worker answers
 * with a 500 whose body says which setting: never a silent default.
 */

import type { Env } from './env'
import { ImproperlyConfigured } from './errors'
import { ALPHANUMERIC, randomString } from './utils/crypto'
import { parseUrl } from './utils/url'

export interface Config {
  /** DEBUG: local development only. Relaxes the SECRET_KEY strength check. Default false. */
  debug: boolean
  /** SECRET_KEY: signs session auth hashes and session snapshots. Required outside DEBUG. */
  secretKey: string
  /** SECRET_KEY_FALLBACKS: older keys still accepted when verifying, for rotation. */
  secretKeyFallbacks: string[]
  /** ORIGIN_URL: the API the gateway fronts; null answers 404 outside /auth. */
  originUrl: URL | null
  /** ORIGIN_TIMEOUT_MS: time to the origin's response headers before a 504. Default 30,000. */
  originTimeoutMs: number
  /** PUBLIC_PATHS: globs that need no login. Default none. */
  publicPaths: string[]
  /** STAFF_PATHS: globs that need `is_staff`. Default none. */
  staffPaths: string[]
  /** CSRF_TRUSTED_ORIGINS: origins (`https://*.example.com` allowed) besides the request's own. */
  csrfTrustedOrigins: string[]
  /** CSRF_COOKIE_NAME. Default `csrftoken`. */
  csrfCookieName: string
  /** SESSION_COOKIE_NAME. Default `sessionid`; a `__Host-` prefix is supported. */
  sessionCookieName: string
  /** SESSION_COOKIE_AGE in seconds. Default 1,209,600 (two weeks, as Django). */
  sessionCookieAge: number
  /** SESSION_COOKIE_DOMAIN. Default none (host-only cookie). */
  sessionCookieDomain: string | null
  /** SESSION_EXPIRE_AT_BROWSER_CLOSE: session cookies without Max-Age. Default false. */
  sessionExpireAtBrowserClose: boolean
  /** LOGIN_FAILURE_LIMIT: failed logins per (IP, username) in a window. Default 5. */
  loginFailureLimit: number
  /** LOGIN_FAILURE_IP_LIMIT: failed logins per IP in a window. Default 100. */
  loginFailureIpLimit: number
  /** LOGIN_FAILURE_WINDOW in seconds. Default 900 (15 minutes). */
  loginFailureWindow: number
  /** ASSERTION_KEYS: private JWKs (JSON object or array); the first signs. */
  assertionKeys: JsonWebKey[]
  /** ASSERTION_ISSUER: the `iss` of identity assertions. Default `sessiongate`. */
  assertionIssuer: string
  /** ASSERTION_AUDIENCE: the `aud` of identity assertions. Default the origin's URL origin. */
  assertionAudience: string | null
  /** ALLOWED_HOSTS: Host values served (Django's syntax); others get 400. Default: any host. */
  allowedHosts: string[]
  /** TRUSTED_PROXY_SECRET: a proxy sending it has its X-Forwarded-For read. Default none. */
  trustedProxySecret: string | null
  /**
   * SECURE_PROXY_SSL_HEADER: a header (e.g. `X-Forwarded-Proto`) whose value `https` marks the
   * request as secure, behind a TLS-terminating proxy. Default none: only the URL's scheme.
   */
  secureProxySslHeader: string | null
  /** USE_X_FORWARDED_HOST: take the request's host from X-Forwarded-Host. Default false. */
  useXForwardedHost: boolean
  /** AUDIT_RETENTION_DAYS: how long audit events are kept. Default 90. */
  auditRetentionDays: number
}

/** Django's own check (security.W009): 50+ characters, 5+ distinct, not a generated dev key. */
const MIN_SECRET_LENGTH = 50
const MIN_SECRET_UNIQUE = 5
/** RFC 6265 cookie-name token characters. */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

function bool(env: Env, name: keyof Env, fallback: boolean): boolean {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const value = String(raw).trim().toLowerCase()
  if (['1', 'true', 'yes', 'on'].includes(value)) return true
  if (['0', 'false', 'no', 'off'].includes(value)) return false
  throw new ImproperlyConfigured(name, `must be true or false, not "${raw}".`)
}

function integer(env: Env, name: keyof Env, fallback: number, min: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  const text = String(raw).trim()
  const value = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min) {
    throw new ImproperlyConfigured(name, `must be a whole number of at least ${min}, not "${raw}".`)
  }
  return value
}

function list(env: Env, name: keyof Env): string[] {
  const raw = env[name]
  if (raw === undefined) return []
  return String(raw)
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)
}

function cookieName(env: Env, name: keyof Env, fallback: string): string {
  const value = env[name] === undefined || env[name] === '' ? fallback : String(env[name]).trim()
  if (!COOKIE_NAME.test(value)) {
    throw new ImproperlyConfigured(name, `must be a valid cookie name, not "${value}".`)
  }
  return value
}

function weakness(key: string): string | null {
  if (key.startsWith('django-insecure-')) return 'is a generated development key.'
  if (key.length < MIN_SECRET_LENGTH) return `must be at least ${MIN_SECRET_LENGTH} characters.`
  if (new Set(key).size < MIN_SECRET_UNIQUE) {
    return `must have at least ${MIN_SECRET_UNIQUE} distinct characters.`
  }
  return null
}

function secretKey(env: Env, debug: boolean): string {
  const key = env.SECRET_KEY ?? ''
  if (key === '') {
    if (!debug) throw new ImproperlyConfigured('SECRET_KEY', 'is not set.')
    // DEBUG only: a per-isolate key, so a missing .dev.vars still runs (sessions end on reload).
    console.warn('SECRET_KEY is not set; using a random key for this DEBUG process.')
    return randomString(ALPHANUMERIC, 64)
  }
  const problem = weakness(key)
  if (problem && !debug) throw new ImproperlyConfigured('SECRET_KEY', problem)
  return key
}

function originUrl(env: Env): URL | null {
  const raw = (env.ORIGIN_URL ?? '').trim()
  if (raw === '') return null
  const url = parseUrl(raw)
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new ImproperlyConfigured('ORIGIN_URL', `must be an http(s) URL, not "${raw}".`)
  }
  return url
}

function pathGlobs(env: Env, name: keyof Env): string[] {
  const globs = list(env, name)
  for (const glob of globs) {
    if (!glob.startsWith('/')) {
      throw new ImproperlyConfigured(name, `entries must start with "/", not "${glob}".`)
    }
  }
  return globs
}

function trustedOrigins(env: Env): string[] {
  const origins = list(env, 'CSRF_TRUSTED_ORIGINS')
  for (const origin of origins) {
    // Django 4.0+ requires the scheme; a leading "*." wildcard matches subdomains.
    const url = parseUrl(origin.replace('://*.', '://wildcard.'))
    if (!url || !['http:', 'https:'].includes(url.protocol) || url.pathname !== '/') {
      throw new ImproperlyConfigured(
        'CSRF_TRUSTED_ORIGINS',
        `entries must be scheme://host[:port], not "${origin}".`,
      )
    }
  }
  return origins.map((origin) => origin.toLowerCase().replace(/\/$/, ''))
}

function assertionKeys(env: Env): JsonWebKey[] {
  const raw = (env.ASSERTION_KEYS ?? '').trim()
  if (raw === '') return []
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch {
    throw new ImproperlyConfigured('ASSERTION_KEYS', 'must be a JSON private JWK or array of them.')
  }
  const keys = Array.isArray(parsed) ? parsed : [parsed]
  for (const key of keys) {
    const jwk = key as JsonWebKey & { kid?: unknown }
    if (
      jwk?.kty !== 'EC' ||
      jwk.crv !== 'P-256' ||
      typeof jwk.d !== 'string' ||
      // The public coordinates are published in the JWKS.
      typeof jwk.x !== 'string' ||
      typeof jwk.y !== 'string'
    ) {
      throw new ImproperlyConfigured('ASSERTION_KEYS', 'entries must be private EC P-256 JWKs.')
    }
    if (typeof jwk.kid !== 'string' || jwk.kid === '') {
      throw new ImproperlyConfigured('ASSERTION_KEYS', 'entries must each have a "kid".')
    }
  }
  return keys as JsonWebKey[]
}

function allowedHosts(env: Env): string[] {
  const hosts = list(env, 'ALLOWED_HOSTS')
  for (const host of hosts) {
    if (host !== '*' && !/^\.?[a-z0-9.-]+$|^\[[0-9a-f:.]+\]$/i.test(host)) {
      throw new ImproperlyConfigured(
        'ALLOWED_HOSTS',
        `entries must be host names, ".domain" or "*", not "${host}".`,
      )
    }
  }
  return hosts
}

/** Long enough that it cannot be guessed: 32 characters of a 62-letter alphabet = 190 bits. */
const MIN_PROXY_SECRET_LENGTH = 32

function trustedProxySecret(env: Env): string | null {
  const secret = env.TRUSTED_PROXY_SECRET ?? ''
  if (secret === '') return null
  if (secret.length < MIN_PROXY_SECRET_LENGTH) {
    throw new ImproperlyConfigured(
      'TRUSTED_PROXY_SECRET',
      `must be at least ${MIN_PROXY_SECRET_LENGTH} characters.`,
    )
  }
  return secret
}

/** RFC 9110 field-name characters. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

function headerName(env: Env, name: keyof Env): string | null {
  const value = String(env[name] ?? '').trim()
  if (value === '') return null
  if (!HEADER_NAME.test(value)) {
    throw new ImproperlyConfigured(
      name,
      `must be a header name such as X-Forwarded-Proto, not "${value}".`,
    )
  }
  return value
}

/**
 * Reads and validates every setting. Throws `ImproperlyConfigured` naming the first bad one.
 * Call once per isolate (the Worker caches the result with the app).
 */
export function loadConfig(env: Env): Config {
  const debug = bool(env, 'DEBUG', false)
  const sessionCookieName = cookieName(env, 'SESSION_COOKIE_NAME', 'sessionid')
  const sessionCookieDomain = (env.SESSION_COOKIE_DOMAIN ?? '').trim() || null
  if (sessionCookieName.startsWith('__Host-') && sessionCookieDomain) {
    throw new ImproperlyConfigured(
      'SESSION_COOKIE_DOMAIN',
      'must be empty with a __Host- cookie name (RFC 6265bis).',
    )
  }
  const origin = originUrl(env)
  return {
    debug,
    secretKey: secretKey(env, debug),
    secretKeyFallbacks: list(env, 'SECRET_KEY_FALLBACKS'),
    originUrl: origin,
    originTimeoutMs: integer(env, 'ORIGIN_TIMEOUT_MS', 30_000, 1),
    publicPaths: pathGlobs(env, 'PUBLIC_PATHS'),
    staffPaths: pathGlobs(env, 'STAFF_PATHS'),
    csrfTrustedOrigins: trustedOrigins(env),
    csrfCookieName: cookieName(env, 'CSRF_COOKIE_NAME', 'csrftoken'),
    sessionCookieName,
    sessionCookieAge: integer(env, 'SESSION_COOKIE_AGE', 1_209_600, 1),
    sessionCookieDomain,
    sessionExpireAtBrowserClose: bool(env, 'SESSION_EXPIRE_AT_BROWSER_CLOSE', false),
    loginFailureLimit: integer(env, 'LOGIN_FAILURE_LIMIT', 5, 1),
    loginFailureIpLimit: integer(env, 'LOGIN_FAILURE_IP_LIMIT', 100, 1),
    loginFailureWindow: integer(env, 'LOGIN_FAILURE_WINDOW', 900, 1),
    assertionKeys: assertionKeys(env),
    assertionIssuer: (env.ASSERTION_ISSUER ?? '').trim() || 'sessiongate',
    assertionAudience: (env.ASSERTION_AUDIENCE ?? '').trim() || origin?.origin || null,
    allowedHosts: allowedHosts(env),
    trustedProxySecret: trustedProxySecret(env),
    secureProxySslHeader: headerName(env, 'SECURE_PROXY_SSL_HEADER'),
    useXForwardedHost: bool(env, 'USE_X_FORWARDED_HOST', false),
    auditRetentionDays: integer(env, 'AUDIT_RETENTION_DAYS', 90, 1),
  }
}
