/** Types for jwk.mjs (plain JavaScript so that `node scripts/dev.mjs` needs no build). */

/** A private EC P-256 JWK as ASSERTION_KEYS holds it. */
export interface PrivateJwk {
  kty: string
  crv: string
  x: string
  y: string
  d: string
  kid: string
}

/** A public JWK as `/.well-known/jwks.json` lists it. */
export interface PublicJwk {
  kty: string
  crv: string
  x: string
  y: string
  kid: string
  alg: 'ES256'
  use: 'sig'
}

/** A new private JWK for ES256 with a random `kid` (128 bits, base64url). */
export function generatePrivateJwk(): Promise<PrivateJwk>

/** The public JWKS for private JWKs (an object or an array). */
export function publicJwks(keys: PrivateJwk | PrivateJwk[]): { keys: PublicJwk[] }
