/**
 * Byte helpers for the hash formats: UTF-8 and strict base64. Pure
 * functions over `Uint8Array`, with nothing from Node or Workers beyond `btoa`/`atob`.
 */

const encoder = new TextEncoder()

/**
 * The UTF-8 bytes of a password, as Python's `password.encode()` gives them to Django's hashers:
 * no Unicode normalization and no truncation (a NUL is just another byte). A lone surrogate, which
 * Python would refuse, becomes U+FFFD here.
 */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text)
}

/** Standard base64 (`+/`), with `=` padding (Python's `b64encode`) or without (argon2's PHC). */
export function encodeBase64(bytes: Uint8Array, padded: boolean): string {
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  const text = btoa(binary)
  return padded ? text : text.replace(/=+$/, '')
}

const PADDED = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const UNPADDED = /^[A-Za-z0-9+/]*$/

/**
 * Decodes standard base64, or returns `null` unless `text` is exactly what `encodeBase64` writes
 * for some bytes. Django compares whole encoded strings and libargon2 refuses stray bits, so a
 * hash spelled another way (other padding, non-zero trailing bits) must not verify here either.
 */
export function decodeBase64(text: string, padded: boolean): Uint8Array | null {
  if (!(padded ? PADDED : UNPADDED).test(text) || (!padded && text.length % 4 === 1)) return null
  const binary = atob(padded ? text : text + '='.repeat((4 - (text.length % 4)) % 4))
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return encodeBase64(bytes, padded) === text ? bytes : null
}
