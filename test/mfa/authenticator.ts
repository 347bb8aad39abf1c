/**
 * A software WebAuthn authenticator for the tests, built on WebCrypto: it makes an ES256 (P-256)
 * or RS256 (RSA 2048) credential, answers creation options with a `none` attestation and request
 * options with a signed assertion, in the JSON form browsers' `toJSON()` gives (base64url). Its
 * CBOR and DER encoders cover what WebAuthn needs, no more.
 */

const encoder = new TextEncoder()

export function base64url(bytes: Uint8Array | ArrayBuffer): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)
  let binary = ''
  for (const byte of view) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

export function fromBase64url(text: string): Uint8Array {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/')
  const binary = atob(base64 + '==='.slice((base64.length + 3) % 4))
  return Uint8Array.from(binary, (char) => char.charCodeAt(0))
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((size, part) => size + part.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/** A CBOR value as WebAuthn uses them. */
type Cbor = number | string | Uint8Array | Map<number | string, Cbor>

function cborHead(major: number, length: number): Uint8Array {
  if (length < 24) return Uint8Array.of((major << 5) | length)
  if (length < 0x100) return Uint8Array.of((major << 5) | 24, length)
  if (length < 0x10000) return Uint8Array.of((major << 5) | 25, length >> 8, length & 0xff)
  return Uint8Array.of(
    (major << 5) | 26,
    (length >>> 24) & 0xff,
    (length >> 16) & 0xff,
    (length >> 8) & 0xff,
    length & 0xff,
  )
}

/** CBOR (RFC 8949) of integers, text, bytes and maps. */
export function cbor(value: Cbor): Uint8Array {
  if (typeof value === 'number') return value >= 0 ? cborHead(0, value) : cborHead(1, -1 - value)
  if (typeof value === 'string') {
    const bytes = encoder.encode(value)
    return concat(cborHead(3, bytes.length), bytes)
  }
  if (value instanceof Uint8Array) return concat(cborHead(2, value.length), value)
  const entries = [...value].map(([key, item]) => concat(cbor(key), cbor(item)))
  return concat(cborHead(5, value.size), ...entries)
}

/** An unsigned big-endian integer as DER wants it: no leading zeros, a 0 before a high bit. */
function derInteger(bytes: Uint8Array): Uint8Array {
  let start = 0
  while (start < bytes.length - 1 && bytes[start] === 0) start++
  let body = bytes.slice(start)
  if ((body[0] as number) & 0x80) body = concat(Uint8Array.of(0), body)
  return concat(Uint8Array.of(0x02, body.length), body)
}

/** WebCrypto's raw ECDSA signature (r || s) as the DER SEQUENCE WebAuthn carries. */
function derSignature(raw: Uint8Array): Uint8Array {
  const half = raw.length / 2
  const body = concat(derInteger(raw.slice(0, half)), derInteger(raw.slice(half)))
  return concat(Uint8Array.of(0x30, body.length), body)
}

async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
}

export type Algorithm = 'ES256' | 'RS256'

/** The options of `credentials.create()` in their JSON form, as far as this uses them. */
export interface CreationOptions {
  challenge: string
  rp: { id?: string; name: string }
  user: { id: string; name: string; displayName: string }
  pubKeyCredParams: { alg: number; type: string }[]
  excludeCredentials?: { id: string }[]
  authenticatorSelection?: { residentKey?: string; userVerification?: string }
}

/** The options of `credentials.get()` in their JSON form. */
export interface RequestOptions {
  challenge: string
  rpId?: string
  allowCredentials?: { id: string }[]
  userVerification?: string
}

const FLAG_UP = 0x01
const FLAG_UV = 0x04
const FLAG_AT = 0x40

/** One credential on a software authenticator. */
export class SoftwareAuthenticator {
  /** The credential id, base64url. */
  readonly id: string
  /** The user handle it was registered with, base64url (a discoverable credential keeps it). */
  userHandle: string | null = null
  /** Its signature counter, moved at every assertion (0 stays 0: no counter, like passkeys). */
  signCount: number

  private constructor(
    readonly algorithm: Algorithm,
    private readonly keys: CryptoKeyPair,
    private readonly rawId: Uint8Array,
    options: { signCount: number },
  ) {
    this.id = base64url(rawId)
    this.signCount = options.signCount
  }

  /** A new credential: an ES256 or RS256 key pair and a random 32-byte id. */
  static async create(
    algorithm: Algorithm = 'ES256',
    options: { signCount?: number } = {},
  ): Promise<SoftwareAuthenticator> {
    const keys =
      algorithm === 'ES256'
        ? await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
            'sign',
            'verify',
          ])
        : await crypto.subtle.generateKey(
            {
              name: 'RSASSA-PKCS1-v1_5',
              modulusLength: 2048,
              publicExponent: Uint8Array.of(1, 0, 1),
              hash: 'SHA-256',
            },
            true,
            ['sign', 'verify'],
          )
    const rawId = crypto.getRandomValues(new Uint8Array(32))
    return new SoftwareAuthenticator(algorithm, keys as CryptoKeyPair, rawId, {
      signCount: options.signCount ?? 0,
    })
  }

  /** The public key as a COSE_Key (RFC 9053): EC2 P-256 for ES256, RSA for RS256. */
  async coseKey(): Promise<Uint8Array> {
    const jwk = (await crypto.subtle.exportKey('jwk', this.keys.publicKey)) as JsonWebKey
    if (this.algorithm === 'ES256') {
      return cbor(
        new Map<number, Cbor>([
          [1, 2],
          [3, -7],
          [-1, 1],
          [-2, fromBase64url(jwk.x as string)],
          [-3, fromBase64url(jwk.y as string)],
        ]),
      )
    }
    return cbor(
      new Map<number, Cbor>([
        [1, 3],
        [3, -257],
        [-1, fromBase64url(jwk.n as string)],
        [-2, fromBase64url(jwk.e as string)],
      ]),
    )
  }

  async #sign(data: Uint8Array): Promise<Uint8Array> {
    if (this.algorithm === 'ES256') {
      const raw = await crypto.subtle.sign(
        { name: 'ECDSA', hash: 'SHA-256' },
        this.keys.privateKey,
        data,
      )
      return derSignature(new Uint8Array(raw))
    }
    return new Uint8Array(await crypto.subtle.sign('RSASSA-PKCS1-v1_5', this.keys.privateKey, data))
  }

  /**
   * Answers creation options as a browser's `PublicKeyCredential.toJSON()` would: a `none`
   * attestation over authenticator data holding this credential. `overrides` bend the answer
   * (another origin, RP ID or challenge; no user verification).
   */
  async register(
    options: CreationOptions,
    origin: string,
    overrides: { rpId?: string; challenge?: string; uv?: boolean; type?: string } = {},
  ): Promise<Record<string, unknown>> {
    const rpId = overrides.rpId ?? options.rp.id ?? new URL(origin).hostname
    this.userHandle = options.user.id
    const clientDataJSON = encoder.encode(
      JSON.stringify({
        type: overrides.type ?? 'webauthn.create',
        challenge: overrides.challenge ?? options.challenge,
        origin,
        crossOrigin: false,
      }),
    )
    const idLength = Uint8Array.of(this.rawId.length >> 8, this.rawId.length & 0xff)
    const authData = concat(
      await sha256(encoder.encode(rpId)),
      Uint8Array.of(FLAG_UP | (overrides.uv === false ? 0 : FLAG_UV) | FLAG_AT),
      this.#counterBytes(),
      new Uint8Array(16), // AAGUID: zeros, as a `none` attestation allows
      idLength,
      this.rawId,
      await this.coseKey(),
    )
    const attestationObject = cbor(
      new Map<string, Cbor>([
        ['fmt', 'none'],
        ['attStmt', new Map()],
        ['authData', authData],
      ]),
    )
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      authenticatorAttachment: 'platform',
      clientExtensionResults: {},
      response: {
        clientDataJSON: base64url(clientDataJSON),
        attestationObject: base64url(attestationObject),
        transports: ['internal'],
      },
    }
  }

  /**
   * Answers request options with an assertion signed by this credential, carrying its user handle
   * (as a discoverable credential does). `overrides` bend it as for `register`.
   */
  async assert(
    options: RequestOptions,
    origin: string,
    overrides: {
      rpId?: string
      challenge?: string
      uv?: boolean
      userHandle?: string | null
      tamper?: boolean
    } = {},
  ): Promise<Record<string, unknown>> {
    const rpId = overrides.rpId ?? options.rpId ?? new URL(origin).hostname
    if (this.signCount > 0) this.signCount += 1
    const clientDataJSON = encoder.encode(
      JSON.stringify({
        type: 'webauthn.get',
        challenge: overrides.challenge ?? options.challenge,
        origin,
        crossOrigin: false,
      }),
    )
    const authData = concat(
      await sha256(encoder.encode(rpId)),
      Uint8Array.of(FLAG_UP | (overrides.uv === false ? 0 : FLAG_UV)),
      this.#counterBytes(),
    )
    const signature = await this.#sign(concat(authData, await sha256(clientDataJSON)))
    if (overrides.tamper) signature.set([(signature.at(-1) as number) ^ 0x01], signature.length - 1)
    const userHandle = overrides.userHandle === undefined ? this.userHandle : overrides.userHandle
    return {
      id: this.id,
      rawId: this.id,
      type: 'public-key',
      authenticatorAttachment: 'platform',
      clientExtensionResults: {},
      response: {
        clientDataJSON: base64url(clientDataJSON),
        authenticatorData: base64url(authData),
        signature: base64url(signature),
        ...(userHandle ? { userHandle } : {}),
      },
    }
  }

  #counterBytes(): Uint8Array {
    const count = this.signCount
    return Uint8Array.of(
      (count >>> 24) & 0xff,
      (count >> 16) & 0xff,
      (count >> 8) & 0xff,
      count & 0xff,
    )
  }
}
