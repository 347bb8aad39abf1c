/**
 * TOTP (RFC 6238) as authenticator apps speak it: HMAC-SHA-1, 6 digits, 30-second steps, one step
 * of clock drift either way. The one-time-password arithmetic is @oslojs/otp's HOTP (RFC 4226);
 * this module picks the steps, so the clock is injectable and the step a code matched is known:
 * storing it is what refuses a code, or an older one, once a code was accepted (RFC 6238 §5.2).
 *
 * The shared secret cannot be hashed (the server computes codes from it), so it is stored sealed:
 * AES-GCM under a key derived from SECRET_KEY, bound to the user's id, so a D1 dump alone does not
 * yield anyone's codes and a sealed secret copied to another user does not open.
 */
import {
  decodeBase64urlIgnorePadding,
  encodeBase32NoPadding,
  encodeBase64urlNoPadding,
} from '@oslojs/encoding'
import { createTOTPKeyURI, verifyHOTP } from '@oslojs/otp'

/** RFC 6238's defaults, which every authenticator app supports. */
export const TOTP_DIGITS = 6
export const TOTP_PERIOD_SECONDS = 30
/** Steps accepted either side of the current one (RFC 6238 §5.2: at most one is recommended). */
const DRIFT_STEPS = 1
/** RFC 4226 §4 recommends a 160-bit shared secret. */
const SECRET_BYTES = 20

/** A new shared secret: 20 bytes (160 bits) from the CSPRNG. */
export function newTotpSecret(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(SECRET_BYTES))
}

/** The secret as apps take it typed in: base32 without padding. */
export function totpSecretText(secret: Uint8Array): string {
  return encodeBase32NoPadding(secret)
}

/** The `otpauth://totp/...` URL a QR code carries (Google Authenticator's key URI format). */
export function otpauthUrl(issuer: string, account: string, secret: Uint8Array): string {
  return createTOTPKeyURI(issuer, account, secret, TOTP_PERIOD_SECONDS, TOTP_DIGITS)
}

/** The RFC 6238 time step at `now` (ms since the epoch). */
export function totpStep(now: number): number {
  return Math.floor(now / 1000 / TOTP_PERIOD_SECONDS)
}

/** Whether a typed code looks like a TOTP code: six digits, spaces allowed between. */
export function isTotpCode(code: string): boolean {
  return /^\d{6}$/.test(code.replace(/\s+/g, ''))
}

/**
 * The time step whose code `code` is, among the current one and one either side, and only if it
 * is later than `lastStep` (the step of the code accepted last): so a code is accepted once, and
 * never after a later one. Null when it matches none. Every candidate step is checked, whichever
 * matches, so the time taken says nothing about which did.
 */
export function matchTotp(
  secret: Uint8Array,
  code: string,
  now: number,
  lastStep: number | null,
): number | null {
  const typed = code.replace(/\s+/g, '')
  if (!/^\d{6}$/.test(typed)) return null
  const current = totpStep(now)
  let matched: number | null = null
  for (let step = current - DRIFT_STEPS; step <= current + DRIFT_STEPS; step++) {
    const valid = verifyHOTP(secret, BigInt(step), TOTP_DIGITS, typed)
    if (valid && matched === null && (lastStep === null || step > lastStep)) matched = step
  }
  return matched
}

const encoder = new TextEncoder()
const SEAL_SALT = 'sessiongate.mfa.totp'
/** The stored form's version prefix, so a later format can be told apart. */
const SEAL_VERSION = 'v1'
const IV_BYTES = 12

/**
 * Seals and opens TOTP secrets with AES-GCM under keys derived from SECRET_KEY (it seals) and
 * SECRET_KEY_FALLBACKS (they still open), each as SHA-256(salt + secret): rotating SECRET_KEY
 * keeps every authenticator working while the old key stays among the fallbacks.
 */
export class TotpSealer {
  readonly #keys: Promise<CryptoKey>[]

  /** @param secrets SECRET_KEY first, then the fallbacks. */
  constructor(secrets: readonly string[]) {
    this.#keys = secrets.map(async (secret) => {
      const raw = await crypto.subtle.digest('SHA-256', encoder.encode(SEAL_SALT + secret))
      return crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt'])
    })
  }

  /** `v1.<iv>.<ciphertext>` (base64url) of `secret`, bound to the user's id. */
  async seal(userId: number, secret: Uint8Array): Promise<string> {
    const key = this.#keys[0]
    if (!key) throw new Error('TotpSealer: no SECRET_KEY to seal with')
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES))
    const sealed = await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: encoder.encode(String(userId)) },
      await key,
      secret,
    )
    return `${SEAL_VERSION}.${encodeBase64urlNoPadding(iv)}.${encodeBase64urlNoPadding(new Uint8Array(sealed))}`
  }

  /**
   * The secret sealed in `stored` for this user, or null when no key opens it; `stale` when a
   * fallback key opened it, so the caller can seal it again under SECRET_KEY.
   */
  async open(
    userId: number,
    stored: string,
  ): Promise<{ secret: Uint8Array; stale: boolean } | null> {
    const [version, ivText, sealedText] = stored.split('.')
    if (version !== SEAL_VERSION || !ivText || !sealedText) return null
    let iv: Uint8Array
    let sealed: Uint8Array
    try {
      iv = decodeBase64urlIgnorePadding(ivText)
      sealed = decodeBase64urlIgnorePadding(sealedText)
    } catch {
      return null
    }
    for (const [index, key] of this.#keys.entries()) {
      try {
        const plain = await crypto.subtle.decrypt(
          { name: 'AES-GCM', iv, additionalData: encoder.encode(String(userId)) },
          await key,
          sealed,
        )
        return { secret: new Uint8Array(plain), stale: index > 0 }
      } catch {
        // Not this key: try the next one.
      }
    }
    return null
  }
}
