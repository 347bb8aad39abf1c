/**
 * Assertion keys for sessiongate (ASSERTION_KEYS): private EC P-256 JWKs with a random `kid`.
 * Plain JavaScript with WebCrypto, so `scripts/dev.mjs` runs under bare `node` and
 * `scripts/cli/keys.ts` under tsx share the one generator.
 */

/** base64url of bytes, without padding (RFC 7515 §2). */
function base64url(bytes) {
  return Buffer.from(bytes).toString('base64url')
}

/**
 * A new private JWK `{ kty, crv, x, y, d, kid }` for ES256. The `kid` is 16 random bytes
 * (128 bits) in base64url, so keys from different runs never collide in a JWKS.
 * @returns {Promise<{ kty: string, crv: string, x: string, y: string, d: string, kid: string }>}
 */
export async function generatePrivateJwk() {
  const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])
  const { kty, crv, x, y, d } = await crypto.subtle.exportKey('jwk', pair.privateKey)
  return { kty, crv, x, y, d, kid: base64url(crypto.getRandomValues(new Uint8Array(16))) }
}

/**
 * The public JWKS for private JWKs (an object or an array), as `/.well-known/jwks.json` serves.
 * @param {object | object[]} keys
 */
export function publicJwks(keys) {
  const list = Array.isArray(keys) ? keys : [keys]
  return {
    keys: list.map(({ kty, crv, x, y, kid }) => ({
      kty,
      crv,
      x,
      y,
      kid,
      alg: 'ES256',
      use: 'sig',
    })),
  }
}
