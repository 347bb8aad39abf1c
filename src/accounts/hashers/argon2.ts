/**
 * Argon2 (RFC 9106) through the reference C implementation compiled to WebAssembly
 * (`@phi-ag/argon2/argon2.wasm`), and Django's `Argon2PasswordHasher` format:
 * `argon2$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`, salt and hash in unpadded base64.
 *
 * The binding talks to the module's raw exports rather than the package's JS class, which passes
 * `password.length` (UTF-16 code units) as the byte length of the UTF-8 password and so hashes
 * any non-ASCII password wrongly, unlike Django.
 */

import { constantTimeEqual } from '../../utils/crypto'
import { decodeBase64, encodeBase64 } from './encoding'

/** The Argon2 variant, named as in the PHC string. */
export type Argon2Variant = 'argon2d' | 'argon2i' | 'argon2id'

/** Argon2 version: 0x13 (v=19, current) or 0x10 (v=16, the original). */
export type Argon2Version = 0x10 | 0x13

/** What a hash costs: memory in KiB (`m`), passes (`t`) and lanes (`p`). */
export interface Argon2Cost {
  memoryKiB: number
  iterations: number
  parallelism: number
}

/** Everything that goes into one Argon2 hash apart from the password and the salt. */
export interface Argon2Params extends Argon2Cost {
  variant: Argon2Variant
  version: Argon2Version
}

/** A parsed Django argon2 hash. */
export interface Argon2Hash extends Argon2Params {
  salt: Uint8Array
  hash: Uint8Array
}

/**
 * OWASP's first argon2id configuration (Password Storage Cheat Sheet): 19 MiB, 2 passes, 1 lane.
 * It fits a Worker's 128 MB isolate and costs tens of milliseconds, where Django's own default
 * (100 MiB, 8 lanes) would take most of the isolate's memory for every login.
 */
export const OWASP_ARGON2: Argon2Cost = { memoryKiB: 19_456, iterations: 2, parallelism: 1 }

/** Salt and hash sizes of new hashes: 128-bit salt (OWASP) and 256-bit hash (RFC 9106). */
export const ARGON2_SALT_BYTES = 16
export const ARGON2_HASH_BYTES = 32

/**
 * The most memory a stored hash may ask for: Django 5.2's default, 102,400 KiB (100 MiB). More
 * would push a Worker past its 128 MB isolate limit, which kills the isolate for every request
 * it serves; such a hash is refused unread.
 */
export const ARGON2_MAX_MEMORY_KIB = 102_400

// Bounds on the rest, so a damaged or hostile row cannot make a login spin: Django writes t=2,
// p=8; libargon2 itself needs salt >= 8 bytes, hash >= 4 bytes and m >= 8 * p.
const MAX_ITERATIONS = 10
const MAX_PARALLELISM = 64
const MIN_SALT_BYTES = 8
const MAX_SALT_BYTES = 64
const MIN_HASH_BYTES = 4
const MAX_HASH_BYTES = 64

const VARIANT_CODES: Record<Argon2Variant, number> = { argon2d: 0, argon2i: 1, argon2id: 2 }

const NUMBER = '([1-9][0-9]{0,9})'
// argon2-cffi writes `$v=19$`; hashes from libargon2 before version 1.3 have no `v=` at all,
// which libargon2 reads as 0x10.
const FORMAT = new RegExp(
  `^argon2\\$(argon2id|argon2i|argon2d)\\$(?:v=(16|19)\\$)?m=${NUMBER},t=${NUMBER},p=${NUMBER}` +
    '\\$([A-Za-z0-9+/]+)\\$([A-Za-z0-9+/]+)$',
)

/**
 * Parses Django's `argon2$argon2id$v=19$m=...,t=...,p=...$<salt>$<hash>` (also `argon2i`,
 * `argon2d` and v=16), or returns `null` when `encoded` is malformed, out of libargon2's bounds
 * or dearer than `maxMemoryKiB` (default {@link ARGON2_MAX_MEMORY_KIB}).
 */
export function parseArgon2(
  encoded: string,
  maxMemoryKiB = ARGON2_MAX_MEMORY_KIB,
): Argon2Hash | null {
  const match = FORMAT.exec(encoded)
  if (!match) return null
  const [, variant, version, m, t, p, saltText = '', hashText = ''] = match
  const memoryKiB = Number(m)
  const iterations = Number(t)
  const parallelism = Number(p)
  if (iterations > MAX_ITERATIONS || parallelism > MAX_PARALLELISM) return null
  if (memoryKiB < 8 * parallelism || memoryKiB > maxMemoryKiB) return null
  const salt = decodeBase64(saltText, false)
  const hash = decodeBase64(hashText, false)
  if (!salt || salt.length < MIN_SALT_BYTES || salt.length > MAX_SALT_BYTES) return null
  if (!hash || hash.length < MIN_HASH_BYTES || hash.length > MAX_HASH_BYTES) return null
  return {
    variant: variant as Argon2Variant,
    version: version === '16' || version === undefined ? 0x10 : 0x13,
    memoryKiB,
    iterations,
    parallelism,
    salt,
    hash,
  }
}

/** Writes an argon2 hash in Django's format: `argon2` + argon2-cffi's PHC string. */
export function encodeArgon2(hash: Argon2Hash): string {
  const salt = encodeBase64(hash.salt, false)
  const digest = encodeBase64(hash.hash, false)
  return (
    `argon2$${hash.variant}$v=${hash.version}` +
    `$m=${hash.memoryKiB},t=${hash.iterations},p=${hash.parallelism}$${salt}$${digest}`
  )
}

/**
 * Django's `Argon2PasswordHasher.must_update`: a hash needs redoing when anything about it
 * differs from what a new hash would be (variant, version, cost, hash length), or its salt is
 * shorter than a new one.
 */
export function argon2MustUpdate(hash: Argon2Hash, cost: Argon2Cost): boolean {
  return (
    hash.variant !== 'argon2id' ||
    hash.version !== 0x13 ||
    hash.memoryKiB !== cost.memoryKiB ||
    hash.iterations !== cost.iterations ||
    hash.parallelism !== cost.parallelism ||
    hash.hash.length !== ARGON2_HASH_BYTES ||
    hash.salt.length < ARGON2_SALT_BYTES
  )
}

interface Argon2Exports {
  memory: WebAssembly.Memory
  _initialize(): void
  malloc(size: number): number
  free(pointer: number): void
  argon2_error_message(code: number): number
  argon2_hash(
    iterations: number,
    memoryKiB: number,
    parallelism: number,
    password: number,
    passwordLength: number,
    salt: number,
    saltLength: number,
    hash: number,
    hashLength: number,
    encoded: number,
    encodedLength: number,
    type: number,
    version: number,
  ): number
}

/**
 * One instance of the argon2 WebAssembly module. Its memory grows to the largest `m` it has
 * hashed with and never shrinks (WebAssembly memory cannot): drop an instance that has hashed
 * at a cost dearer than the everyday one. Not re-entrant, but it never needs to be: `hash` runs
 * synchronously to the end.
 */
export class Argon2Wasm {
  readonly #exports: Argon2Exports

  private constructor(exports: Argon2Exports) {
    this.#exports = exports
  }

  /** Instantiates the compiled module and runs its start-up (`_initialize`) once. */
  static async instantiate(module: WebAssembly.Module): Promise<Argon2Wasm> {
    const instance = await WebAssembly.instantiate(module, {})
    const exports = instance.exports as unknown as Argon2Exports
    exports._initialize()
    return new Argon2Wasm(exports)
  }

  /** The bytes of this instance's linear memory: how far it has grown. */
  get memoryBytes(): number {
    return this.#exports.memory.buffer.byteLength
  }

  /**
   * The raw Argon2 hash (`length` bytes) of the password bytes with the salt. Every byte of the
   * password is hashed, NULs included. Throws on an argon2 error (bad parameters, out of memory).
   */
  hash(params: Argon2Params, password: Uint8Array, salt: Uint8Array, length: number): Uint8Array {
    const wasm = this.#exports
    const pointers: number[] = []
    const allocate = (size: number) => {
      // malloc(0) may return NULL: an empty password still gets a 1-byte buffer, length 0.
      const pointer = wasm.malloc(Math.max(size, 1))
      if (pointer === 0) throw new Error('argon2: out of WebAssembly memory')
      pointers.push(pointer)
      return pointer
    }
    try {
      const passwordAt = allocate(password.length)
      const saltAt = allocate(salt.length)
      const hashAt = allocate(length)
      new Uint8Array(wasm.memory.buffer).set(password, passwordAt)
      new Uint8Array(wasm.memory.buffer).set(salt, saltAt)
      const code = wasm.argon2_hash(
        params.iterations,
        params.memoryKiB,
        params.parallelism,
        passwordAt,
        password.length,
        saltAt,
        salt.length,
        hashAt,
        length,
        0,
        0,
        VARIANT_CODES[params.variant],
        params.version,
      )
      if (code !== 0) throw new Error(`argon2: ${this.#errorMessage(code)}`)
      // Memory may have grown during the hash, detaching earlier views: take a fresh one.
      return new Uint8Array(wasm.memory.buffer).slice(hashAt, hashAt + length)
    } finally {
      // Leave no password or hash bytes in the module's heap for a later reader.
      const heap = new Uint8Array(wasm.memory.buffer)
      const [passwordAt, , hashAt] = pointers
      if (passwordAt !== undefined) heap.fill(0, passwordAt, passwordAt + password.length)
      if (hashAt !== undefined) heap.fill(0, hashAt, hashAt + length)
      for (const pointer of pointers) wasm.free(pointer)
    }
  }

  #errorMessage(code: number): string {
    const heap = new Uint8Array(this.#exports.memory.buffer)
    const start = this.#exports.argon2_error_message(code)
    let end = start
    while (end < heap.length && heap[end] !== 0) end++
    return new TextDecoder().decode(heap.subarray(start, end)) || `error ${code}`
  }
}

/** Recomputes a stored argon2 hash with `argon2` and compares in constant time. */
export function verifyArgon2(argon2: Argon2Wasm, hash: Argon2Hash, password: Uint8Array): boolean {
  const derived = argon2.hash(hash, password, hash.salt, hash.hash.length)
  return constantTimeEqual(derived, hash.hash)
}
