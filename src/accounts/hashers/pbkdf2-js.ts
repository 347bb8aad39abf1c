/**
 * PBKDF2-HMAC-SHA256 and PBKDF2-HMAC-SHA1 (RFC 8018) in plain JavaScript, for iteration counts
 * that Cloudflare's runtime refuses to derive natively.
 *
 * Why this exists: production Workers refuse PBKDF2 above 100,000 iterations, in WebCrypto and in
 * `node:crypto` alike (workerd's `checkPbkdfLimits`, called by both; the open-source workerd under
 * `wrangler dev` and vitest leaves the limit out, so only production fails). Django 5.2 writes
 * 1,000,000. PBKDF2 cannot be split into native chunks (every round feeds the next, and the API
 * only returns the XOR of all rounds), so the rounds above the cap run here.
 *
 * Why not a general-purpose library: every round after the first hashes exactly one fixed-size
 * block through precomputed HMAC inner and outer states, so the loop below works on 32-bit words
 * only, with no allocation and no byte conversion. Measured in local workerd, 1,000,000 SHA-256
 * rounds take about 0.7 s here, against 1.6 to 2.5 s (wrangler dev) and 14 s (vitest's workerd)
 * for `@noble/hashes`' generic pbkdf2; native PBKDF2 would take 0.13 s, were it allowed.
 */

type Compress = (state: Int32Array, w: Int32Array, out: Int32Array) => void

interface Sha {
  /** Digest size in 32-bit words. */
  words: number
  /** Rounds of the compression function: the message schedule `w` must hold this many words. */
  rounds: number
  iv: Int32Array
  compress: Compress
}

// FIPS 180-4, 4.2.2: the first 32 bits of the fractional parts of the cube roots of the first 64
// primes.
const K256 = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
])

/** SHA-256's compression function (FIPS 180-4, 6.2.2) over `w[0..15]`; `w[16..63]` is scratch. */
function compress256(state: Int32Array, w: Int32Array, out: Int32Array): void {
  for (let t = 16; t < 64; t++) {
    const x = w[t - 15] as number
    const y = w[t - 2] as number
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)
    w[t] = (s1 + (w[t - 7] as number) + s0 + (w[t - 16] as number)) | 0
  }
  let a = state[0] as number
  let b = state[1] as number
  let c = state[2] as number
  let d = state[3] as number
  let e = state[4] as number
  let f = state[5] as number
  let g = state[6] as number
  let h = state[7] as number
  for (let t = 0; t < 64; t++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + (K256[t] as number) + (w[t] as number)) | 0
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0
    h = g
    g = f
    f = e
    e = (d + t1) | 0
    d = c
    c = b
    b = a
    a = (t1 + t2) | 0
  }
  out[0] = ((state[0] as number) + a) | 0
  out[1] = ((state[1] as number) + b) | 0
  out[2] = ((state[2] as number) + c) | 0
  out[3] = ((state[3] as number) + d) | 0
  out[4] = ((state[4] as number) + e) | 0
  out[5] = ((state[5] as number) + f) | 0
  out[6] = ((state[6] as number) + g) | 0
  out[7] = ((state[7] as number) + h) | 0
}

/** SHA-1's compression function (FIPS 180-4, 6.1.2) over `w[0..15]`; `w[16..79]` is scratch. */
function compress1(state: Int32Array, w: Int32Array, out: Int32Array): void {
  for (let t = 16; t < 80; t++) {
    const x =
      (w[t - 3] as number) ^ (w[t - 8] as number) ^ (w[t - 14] as number) ^ (w[t - 16] as number)
    w[t] = (x << 1) | (x >>> 31)
  }
  let a = state[0] as number
  let b = state[1] as number
  let c = state[2] as number
  let d = state[3] as number
  let e = state[4] as number
  for (let t = 0; t < 80; t++) {
    let f: number
    let k: number
    if (t < 20) {
      f = (b & c) | (~b & d)
      k = 0x5a827999
    } else if (t < 40) {
      f = b ^ c ^ d
      k = 0x6ed9eba1
    } else if (t < 60) {
      f = (b & c) | (b & d) | (c & d)
      k = 0x8f1bbcdc
    } else {
      f = b ^ c ^ d
      k = 0xca62c1d6
    }
    const next = (((a << 5) | (a >>> 27)) + f + e + k + (w[t] as number)) | 0
    e = d
    d = c
    c = (b << 30) | (b >>> 2)
    b = a
    a = next
  }
  out[0] = ((state[0] as number) + a) | 0
  out[1] = ((state[1] as number) + b) | 0
  out[2] = ((state[2] as number) + c) | 0
  out[3] = ((state[3] as number) + d) | 0
  out[4] = ((state[4] as number) + e) | 0
}

const SHA256: Sha = {
  words: 8,
  rounds: 64,
  iv: new Int32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ]),
  compress: compress256,
}

const SHA1: Sha = {
  words: 5,
  rounds: 80,
  iv: new Int32Array([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0]),
  compress: compress1,
}

/** The digests Django's PBKDF2 hashers use: `pbkdf2_sha256` and `pbkdf2_sha1`. */
export type Pbkdf2Digest = 'sha256' | 'sha1'

/** Digest size in bytes: the `dklen` Django derives (it never asks for more). */
export const DIGEST_BYTES: Record<Pbkdf2Digest, number> = { sha256: 32, sha1: 20 }

const BLOCK_BYTES = 64

function readWord(bytes: Uint8Array, at: number): number {
  return (
    ((bytes[at] as number) << 24) |
    ((bytes[at + 1] as number) << 16) |
    ((bytes[at + 2] as number) << 8) |
    (bytes[at + 3] as number)
  )
}

/**
 * Merkle-Damgard hashing of `message` from `state`, which has already absorbed `prefixBytes`
 * (0 from the IV, 64 after an HMAC key block): pads with 0x80, zeros and the total bit length.
 */
function hashFrom(sha: Sha, state: Int32Array, prefixBytes: number, message: Uint8Array) {
  const total = message.length + 9
  const padded = new Uint8Array(Math.ceil(total / BLOCK_BYTES) * BLOCK_BYTES)
  padded.set(message)
  padded[message.length] = 0x80
  const bits = (prefixBytes + message.length) * 8
  // Bit lengths here stay far below 2^53, so two 32-bit halves are exact.
  const high = Math.floor(bits / 2 ** 32)
  const view = new DataView(padded.buffer)
  view.setUint32(padded.length - 8, high)
  view.setUint32(padded.length - 4, bits >>> 0)
  const w = new Int32Array(sha.rounds)
  let current = state
  for (let at = 0; at < padded.length; at += BLOCK_BYTES) {
    for (let i = 0; i < 16; i++) w[i] = readWord(padded, at + 4 * i)
    const next = new Int32Array(sha.words)
    sha.compress(current, w, next)
    current = next
  }
  return current
}

function wordsToBytes(words: Int32Array): Uint8Array {
  const bytes = new Uint8Array(words.length * 4)
  const view = new DataView(bytes.buffer)
  for (let i = 0; i < words.length; i++) view.setInt32(4 * i, words[i] as number)
  return bytes
}

/** The HMAC inner and outer states after absorbing the key block (RFC 2104). */
function hmacStates(sha: Sha, password: Uint8Array) {
  const key = new Uint8Array(BLOCK_BYTES)
  // RFC 2104: a key longer than the block is hashed first.
  key.set(
    password.length > BLOCK_BYTES ? wordsToBytes(hashFrom(sha, sha.iv, 0, password)) : password,
  )
  const w = new Int32Array(sha.rounds)
  const states = [0x36363636, 0x5c5c5c5c].map((pad) => {
    for (let i = 0; i < 16; i++) w[i] = readWord(key, 4 * i) ^ pad
    const state = new Int32Array(sha.words)
    sha.compress(sha.iv, w, state)
    return state
  })
  return { inner: states[0] as Int32Array, outer: states[1] as Int32Array }
}

/**
 * PBKDF2 (RFC 8018, 5.2) with HMAC-SHA256 or HMAC-SHA1, deriving `length` bytes from the
 * password and salt bytes in `iterations` rounds. Synchronous and CPU-bound: about 0.7 s per
 * million SHA-256 rounds in workerd.
 */
export function pbkdf2Js(
  digest: Pbkdf2Digest,
  password: Uint8Array,
  salt: Uint8Array,
  iterations: number,
  length: number,
): Uint8Array {
  if (!Number.isSafeInteger(iterations) || iterations < 1) throw new RangeError('iterations')
  if (!Number.isSafeInteger(length) || length < 1) throw new RangeError('length')
  const sha = digest === 'sha256' ? SHA256 : SHA1
  const n = sha.words
  const { inner, outer } = hmacStates(sha, password)
  const out = new Uint8Array(length)
  const w = new Int32Array(sha.rounds)
  const h = new Int32Array(n)
  const u = new Int32Array(n)
  const t = new Int32Array(n)
  const blocks = Math.ceil(length / (n * 4))
  for (let block = 1; block <= blocks; block++) {
    // U1 = HMAC(P, S || INT(block)), hashed through the general path.
    const first = new Uint8Array(salt.length + 4)
    first.set(salt)
    new DataView(first.buffer).setUint32(salt.length, block)
    const innerDigest = wordsToBytes(hashFrom(sha, inner, BLOCK_BYTES, first))
    u.set(hashFrom(sha, outer, BLOCK_BYTES, innerDigest))
    t.set(u)
    // Every later round hashes one block: a digest, then fixed padding for 64 + digest bytes.
    // The compression functions only write w[16..], so the padding words are set once.
    w.fill(0)
    w[n] = 0x80000000 | 0
    w[15] = (BLOCK_BYTES + n * 4) * 8
    for (let round = 1; round < iterations; round++) {
      for (let i = 0; i < n; i++) w[i] = u[i] as number
      sha.compress(inner, w, h)
      for (let i = 0; i < n; i++) w[i] = h[i] as number
      sha.compress(outer, w, u)
      for (let i = 0; i < n; i++) t[i] = (t[i] as number) ^ (u[i] as number)
    }
    const bytes = wordsToBytes(t)
    const at = (block - 1) * n * 4
    out.set(bytes.subarray(0, Math.min(bytes.length, length - at)), at)
  }
  return out
}
