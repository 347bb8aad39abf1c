/**
 * Small WebCrypto helpers shared by sessions, CSRF and auth: random strings, SHA-256, HMAC and
 * constant-time comparison. Everything here runs in workerd and in Node 20 alike.
 */

const encoder = new TextEncoder()

/**
 * `length` characters drawn uniformly from `alphabet` with `crypto.getRandomValues`. Bytes at or
 * above the largest multiple of the alphabet's size are rejected, so no letter is favoured.
 */
export function randomString(alphabet: string, length: number): string {
  const limit = 256 - (256 % alphabet.length)
  let out = ''
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (byte < limit && out.length < length) out += alphabet[byte % alphabet.length]
    }
  }
  return out
}

/** Lower-case hex of bytes. */
export function toHex(bytes: ArrayBuffer | Uint8Array): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)
  let out = ''
  for (const byte of view) out += byte.toString(16).padStart(2, '0')
  return out
}

/** SHA-256 of the UTF-8 text, as lower-case hex. */
export async function sha256Hex(text: string): Promise<string> {
  return toHex(await crypto.subtle.digest('SHA-256', encoder.encode(text)))
}

/**
 * Compares two strings in time that depends only on their lengths (never on where they first
 * differ), so a secret cannot be guessed one character at a time.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = encoder.encode(a)
  const right = encoder.encode(b)
  let diff = left.length ^ right.length
  const length = Math.max(left.length, right.length)
  for (let i = 0; i < length; i++) diff |= (left[i] ?? 0) ^ (right[i] ?? 0)
  return diff === 0
}

/**
 * Django's `salted_hmac(key_salt, value, secret, algorithm="sha256")`: HMAC-SHA256 keyed with
 * SHA-256(key_salt + secret), over the UTF-8 value. Returns lower-case hex, as `.hexdigest()`.
 */
export async function saltedHmacHex(keySalt: string, value: string, secret: string) {
  const keyBytes = await crypto.subtle.digest('SHA-256', encoder.encode(keySalt + secret))
  const key = await crypto.subtle.importKey(
    'raw',
    keyBytes,
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  )
  return toHex(await crypto.subtle.sign('HMAC', key, encoder.encode(value)))
}
