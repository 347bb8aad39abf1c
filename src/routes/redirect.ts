/**
 * Where a sign-in or sign-out form may send the browser next: Django's
 * `url_has_allowed_host_and_scheme`, narrowed to same-origin paths.
 */
import { hasControlCharacter } from '../gateway/policy'

/** The default destination when `next` is missing or unsafe. */
const DEFAULT_REDIRECT = '/'

/**
 * Whether `target` is a same-origin path that is safe to redirect to. It must start with exactly
 * one `/`; `//host` and `/\host` (which browsers read as another host), any backslash, any
 * scheme, and any control character (browsers drop tab, CR and LF inside URLs, so `/\t/host`
 * would become `//host`) are refused.
 */
export function isSafeRedirect(target: unknown): target is string {
  if (typeof target !== 'string' || target.length === 0 || target.length > 2048) return false
  if (target[0] !== '/' || target[1] === '/') return false
  if (target.includes('\\')) return false
  return !hasControlCharacter(target)
}

/** `target` when it is safe, else `/`. */
export function safeRedirect(target: unknown): string {
  return isSafeRedirect(target) ? target : DEFAULT_REDIRECT
}
