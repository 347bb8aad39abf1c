/**
 * Small WebCrypto helpers shared by sessions, CSRF and auth: random strings, SHA-256, HMAC and
 * constant-time comparison. Everything here runs in workerd and in Node 20 alike.
 */

import { decodeBase64urlIgnorePadding, encodeBase64urlNoPadding } from '@oslojs/encoding'
import { parseJson } from './json'

const encoder = new TextEncoder()
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })

/** Letters and digits, 62 characters (Django's `get_random_string` default). */
export const ALPHANUMERIC = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
/** Lower-case letters and digits, 36 characters: what session keys are made of. */
export const LOWER_ALPHANUMERIC = 'abcdefghijklmnopqrstuvwxyz0123456789'

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
function toHex(bytes: ArrayBuffer | Uint8Array): string {
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
 * Compares two secrets (strings as their UTF-8 bytes, or bytes) in time that depends only on their
 * lengths, never on where they first differ, so a secret cannot be guessed one byte at a time.
 */
export function constantTimeEqual(a: string | Uint8Array, b: string | Uint8Array): boolean {
  const left = typeof a === 'string' ? encoder.encode(a) : a
  const right = typeof b === 'string' ? encoder.encode(b) : b
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

/**
 * HMAC-SHA256 under SECRET_KEY, verifiable under SECRET_KEY_FALLBACKS too, for what sessiongate
 * signs itself (session records, cookies). Each purpose has its own salt, so a signature made
 * for one can never pass as another; keys are derived (SHA-256 of salt + secret, as Django's
 * `salted_hmac`) and imported once per signer, so signing or verifying costs one HMAC.
 */
export class HmacSigner {
  readonly #keys: Promise<CryptoKey>[]

  /**
   * @param salt what the signatures are for, e.g. `sessiongate.session.record`.
   * @param secrets SECRET_KEY first (it signs), then the fallbacks (they only verify).
   */
  constructor(salt: string, secrets: readonly string[]) {
    this.#keys = secrets.map(async (secret) => {
      const raw = await crypto.subtle.digest('SHA-256', encoder.encode(salt + secret))
      return crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, [
        'sign',
        'verify',
      ])
    })
  }

  /** Whether there is a key to sign with (no SECRET_KEY: nothing can be signed or verified). */
  get canSign(): boolean {
    return this.#keys.length > 0
  }

  /** The signature of `message` under the first secret, as 64 lower-case hex characters. */
  async sign(message: string): Promise<string> {
    const key = this.#keys[0]
    if (!key) throw new Error('HmacSigner: no secret to sign with')
    return toHex(await crypto.subtle.sign('HMAC', await key, encoder.encode(message)))
  }

  /**
   * Whether `signature` (hex) signs `message` under any of the secrets. WebCrypto's verify
   * compares in constant time; every key is tried, so timing does not tell which one matched.
   */
  async verify(signature: string, message: string): Promise<boolean> {
    const bytes = fromHex(signature)
    if (bytes?.length !== 32) return false
    const data = encoder.encode(message)
    let valid = false
    for (const key of this.#keys) {
      if (await crypto.subtle.verify('HMAC', await key, bytes, data)) valid = true
    }
    return valid
  }
}

/** The bytes of lower-case or upper-case hex, or null for anything else. */
function fromHex(text: string): Uint8Array | null {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return null
  const bytes = new Uint8Array(text.length / 2)
  for (let i = 0; i < bytes.length; i++)
    bytes[i] = Number.parseInt(text.slice(2 * i, 2 * i + 2), 16)
  return bytes
}

/**
 * A value as `<base64url of its JSON>.<hex HMAC>`, for a cookie: the HMAC covers `context` (what
 * else the value is bound to, such as a session's KV key) and the payload.
 */
export async function sealJson(signer: HmacSigner, value: unknown, context = ''): Promise<string> {
  const payload = encodeBase64urlNoPadding(encoder.encode(JSON.stringify(value)))
  return `${payload}.${await signer.sign(signedMessage(context, payload))}`
}

/**
 * The value of a `sealJson` text made with the same `context`, or undefined when the text is
 * absent, forged, sealed for another context or not JSON. Never a throw.
 */
export async function openJson(
  signer: HmacSigner,
  text: string | undefined,
  context = '',
): Promise<unknown> {
  const dot = text?.lastIndexOf('.') ?? -1
  if (text === undefined || dot < 0) return undefined
  const payload = text.slice(0, dot)
  if (!(await signer.verify(text.slice(dot + 1), signedMessage(context, payload)))) return undefined
  return payloadJson(payload)
}

/**
 * The value of a `sealJson` text read WITHOUT checking its seal: never to be trusted, only to
 * decide something a forged value could at most bring forward.
 */
export function peekJson(text: string | undefined): unknown {
  const dot = text?.lastIndexOf('.') ?? -1
  return text === undefined || dot < 0 ? undefined : payloadJson(text.slice(0, dot))
}

function signedMessage(context: string, payload: string): string {
  return context === '' ? payload : `${context}\n${payload}`
}

function payloadJson(payload: string): unknown {
  try {
    return parseJson(strictDecoder.decode(decodeBase64urlIgnorePadding(payload)))
  } catch {
    return undefined
  }
}
