/**
 * Set-Cookie serialization for the session and CSRF cookies (RFC 6265bis), pure so it can be
 * tested alone. Values are only ever our own keys and tokens (`[A-Za-z0-9]`), so no encoding.
 */

export interface CookieAttributes {
  /** Seconds until expiry; null makes a browser-session cookie (no Max-Age or Expires). */
  maxAge: number | null
  /** The clock (ms) that `Expires` is computed from. */
  now: number
  domain?: string | null
  httpOnly?: boolean
  /** Set when the request came over HTTPS; forced on for `__Host-`/`__Secure-` names. */
  secure?: boolean
  sameSite?: 'Lax' | 'Strict' | 'None'
}

/** Builds a `Set-Cookie` value. `__Host-` names get Secure, Path=/ and no Domain, as required. */
export function serializeCookie(name: string, value: string, attributes: CookieAttributes) {
  const hostPrefixed = name.startsWith('__Host-')
  const parts = [`${name}=${value}`]
  if (attributes.maxAge !== null) {
    const expires = new Date(attributes.now + attributes.maxAge * 1000)
    parts.push(`Expires=${expires.toUTCString()}`, `Max-Age=${attributes.maxAge}`)
  }
  if (attributes.domain && !hostPrefixed) parts.push(`Domain=${attributes.domain}`)
  parts.push('Path=/')
  if (attributes.secure || hostPrefixed || name.startsWith('__Secure-')) parts.push('Secure')
  if (attributes.httpOnly) parts.push('HttpOnly')
  parts.push(`SameSite=${attributes.sameSite ?? 'Lax'}`)
  return parts.join('; ')
}

/** A `Set-Cookie` value that deletes the cookie (empty value, expired, as Django writes it). */
export function deletionCookie(name: string, attributes: Omit<CookieAttributes, 'maxAge' | 'now'>) {
  return serializeCookie(name, '""', { ...attributes, maxAge: 0, now: 0 }).replace(
    /Expires=[^;]+/,
    'Expires=Thu, 01 Jan 1970 00:00:00 GMT',
  )
}

/** Adds `value` to the response's `Vary` header unless it is already there. */
export function addVary(headers: Headers, value: string): void {
  const current = headers.get('Vary')
  if (!current) {
    headers.set('Vary', value)
    return
  }
  const present = current.split(',').map((item) => item.trim().toLowerCase())
  if (!present.includes(value.toLowerCase()) && !present.includes('*')) {
    headers.set('Vary', `${current}, ${value}`)
  }
}
