/**
 * Django's `django.contrib.auth.hashers` for Workers and Node: make, check and upgrade password
 * hashes stored as `algorithm$params$salt$hash` strings.
 *
 * New hashes are argon2id with OWASP's parameters. Hashes written by Django 5.2 verify too:
 * `pbkdf2_sha256$...` (any iteration count), `pbkdf2_sha1$...`, `argon2$argon2id$...` (and the
 * older `argon2i`) and `scrypt$...`, so users imported from a Django database keep their
 * passwords; `mustUpdate` tells the caller to store a new hash after a successful check.
 *
 * Nothing here imports from Node except `node:crypto` (which Workers provide under
 * `nodejs_compat`): the same code runs in the Worker and in the `tsx` CLI.
 */

import { ALPHANUMERIC, randomString } from '../../utils/crypto'
import {
  ARGON2_HASH_BYTES,
  ARGON2_MAX_MEMORY_KIB,
  ARGON2_SALT_BYTES,
  type Argon2Cost,
  type Argon2Hash,
  type Argon2Params,
  Argon2Wasm,
  argon2MustUpdate,
  encodeArgon2,
  OWASP_ARGON2,
  parseArgon2,
  verifyArgon2,
} from './argon2'
import { utf8 } from './encoding'
import { type Pbkdf2Hash, parsePbkdf2, verifyPbkdf2 } from './pbkdf2'
import { parseScrypt, type ScryptHash, verifyScrypt } from './scrypt'

export type { Argon2Cost } from './argon2'
export { OWASP_ARGON2 } from './argon2'

/** The result of {@link Hashers.checkPassword}. */
export interface PasswordCheck {
  /** The password matches the hash. */
  valid: boolean
  /**
   * The hash is valid but not what {@link Hashers.makePassword} would write today (another
   * algorithm, another cost): store `makePassword(password)` in its place. Always false when
   * `valid` is false, as Django only calls its setter for a correct password.
   */
  mustUpdate: boolean
}

/** Django's hashers module, bound to one argon2 WebAssembly module. */
export interface Hashers {
  /**
   * Django's `make_password(password)`: a new argon2id hash with a fresh 16-byte random salt,
   * as `argon2$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`, which Django itself can check.
   * The password is hashed as its UTF-8 bytes, unnormalized and whole (NULs included).
   */
  makePassword(password: string): Promise<string>
  /**
   * Django's `check_password`, returning `must_update` instead of calling a setter. Compares in
   * constant time. For a `null`, unusable, malformed or unknown-algorithm `encoded` it still does
   * the work of one {@link makePassword} and returns `{valid: false, mustUpdate: false}`, so an
   * unknown user costs what a known one does. Never throws for any `encoded`; it throws only if
   * the argon2 module itself cannot be instantiated.
   */
  checkPassword(password: string, encoded: string | null): Promise<PasswordCheck>
  /** Django's `make_password(None)`: `!` and 40 random letters and digits, never a valid hash. */
  makeUnusablePassword(): string
  /**
   * Django's `is_password_usable`: false only for what {@link makeUnusablePassword} writes (a
   * leading `!`). As in Django, `null` counts as usable; `checkPassword` rejects it anyway.
   */
  isPasswordUsable(encoded: string | null): boolean
}

/** Options of {@link createHashers}. */
export interface HashersOptions {
  /** Cost of new argon2id hashes. Default {@link OWASP_ARGON2}: m=19456 KiB, t=2, p=1. */
  argon2?: Partial<Argon2Cost>
  /**
   * Stored argon2 hashes asking for more memory are refused unverified. Default 102,400 KiB,
   * Django 5.2's default; more would not fit a Worker's 128 MB isolate.
   */
  maxArgon2MemoryKiB?: number
  /**
   * Stored PBKDF2 hashes with more iterations are refused unverified, so a damaged row cannot
   * burn a login's CPU time. Default 4,000,000 (Django 5.2 writes 1,000,000), about 3 s of CPU.
   */
  maxPbkdf2Iterations?: number
}

/** Default of {@link HashersOptions.maxPbkdf2Iterations}. */
const PBKDF2_MAX_ITERATIONS = 4_000_000

// Django's UNUSABLE_PASSWORD_PREFIX and UNUSABLE_PASSWORD_SUFFIX_LENGTH.
const UNUSABLE_PREFIX = '!'
const UNUSABLE_SUFFIX_LENGTH = 40

type ParsedHash =
  | { algorithm: 'argon2'; hash: Argon2Hash }
  | { algorithm: 'pbkdf2_sha256' | 'pbkdf2_sha1'; hash: Pbkdf2Hash }
  | { algorithm: 'scrypt'; hash: ScryptHash }

/** The algorithms {@link identifyHasher} recognizes. */
export type HasherAlgorithm = ParsedHash['algorithm']

interface Limits {
  maxArgon2MemoryKiB: number
  maxPbkdf2Iterations: number
}

function parseEncoded(encoded: string, limits: Limits): ParsedHash | null {
  if (encoded.startsWith('argon2$')) {
    const hash = parseArgon2(encoded, limits.maxArgon2MemoryKiB)
    return hash && { algorithm: 'argon2', hash }
  }
  if (encoded.startsWith('pbkdf2_')) {
    const hash = parsePbkdf2(encoded, limits.maxPbkdf2Iterations)
    return hash && { algorithm: hash.algorithm, hash }
  }
  if (encoded.startsWith('scrypt$')) {
    const hash = parseScrypt(encoded)
    return hash && { algorithm: 'scrypt', hash }
  }
  return null
}

/**
 * Django's `identify_hasher`, without throwing: the algorithm of an encoded hash this module can
 * verify (with the default limits), or `null` for anything else, unusable passwords included.
 */
export function identifyHasher(encoded: string): HasherAlgorithm | null {
  const limits = {
    maxArgon2MemoryKiB: ARGON2_MAX_MEMORY_KIB,
    maxPbkdf2Iterations: PBKDF2_MAX_ITERATIONS,
  }
  return parseEncoded(encoded, limits)?.algorithm ?? null
}

// Timing-equalization work needs no secret salt: its hash is thrown away.
const DUMMY_SALT = new Uint8Array(ARGON2_SALT_BYTES).fill(0x5a)

/**
 * Builds the hashers around the compiled argon2 module: in a Worker, the default import of
 * `@phi-ag/argon2/argon2.wasm`; in Node, `await WebAssembly.compile(readFileSync(path))`.
 * Call it once per isolate (at module scope): the WebAssembly instance is created on first use
 * and then shared by every call.
 */
export function createHashers(argon2: WebAssembly.Module, options: HashersOptions = {}): Hashers {
  const cost: Argon2Cost = { ...OWASP_ARGON2, ...options.argon2 }
  const params: Argon2Params = { variant: 'argon2id', version: 0x13, ...cost }
  const limits: Limits = {
    maxArgon2MemoryKiB: options.maxArgon2MemoryKiB ?? ARGON2_MAX_MEMORY_KIB,
    maxPbkdf2Iterations: options.maxPbkdf2Iterations ?? PBKDF2_MAX_ITERATIONS,
  }
  let shared: Promise<Argon2Wasm> | undefined

  /**
   * Runs `use` on the isolate's argon2 instance, created on first use. WebAssembly memory only
   * grows: after one hash at Django's default cost (m=102,400 KiB) the instance would hold
   * 100 MiB for the rest of the isolate's life, and a Worker isolate may use 128 MB in all. So an
   * instance that has hashed above the default cost is dropped right after, and the next call
   * starts a fresh one (19 MiB for the OWASP cost), letting the garbage collector take the
   * 100 MiB back. Dropping the shared instance, rather than hashing on a second throw-away one,
   * also means the 100 MiB never sit beside the everyday instance's 19 MiB.
   */
  async function withArgon2<T>(memoryKiB: number, use: (argon2: Argon2Wasm) => T): Promise<T> {
    if (!shared) {
      const starting = Argon2Wasm.instantiate(argon2)
      // A failed start-up is retried by the next call rather than cached for the isolate's life.
      starting.catch(() => {
        if (shared === starting) shared = undefined
      })
      shared = starting
    }
    const pending = shared
    const instance = await pending
    let trapped = false
    try {
      return use(instance)
    } catch (error) {
      // A trap can leave the C heap inconsistent: never reuse that instance either.
      trapped = error instanceof WebAssembly.RuntimeError
      throw error
    } finally {
      if ((trapped || memoryKiB > cost.memoryKiB) && shared === pending) shared = undefined
    }
  }

  function hashWithDefaults(password: Uint8Array, salt: Uint8Array): Promise<Uint8Array> {
    return withArgon2(cost.memoryKiB, (a) => a.hash(params, password, salt, ARGON2_HASH_BYTES))
  }

  async function verify(parsed: ParsedHash, password: Uint8Array): Promise<boolean> {
    switch (parsed.algorithm) {
      case 'argon2':
        return withArgon2(parsed.hash.memoryKiB, (a) => verifyArgon2(a, parsed.hash, password))
      case 'scrypt':
        return verifyScrypt(parsed.hash, password)
      default:
        return verifyPbkdf2(parsed.hash, password)
    }
  }

  return {
    async makePassword(password) {
      if (typeof password !== 'string') throw new TypeError('password must be a string')
      const salt = crypto.getRandomValues(new Uint8Array(ARGON2_SALT_BYTES))
      const hash = await hashWithDefaults(utf8(password), salt)
      return encodeArgon2({ ...params, salt, hash })
    },

    async checkPassword(password, encoded) {
      const usable = typeof password === 'string' && typeof encoded === 'string'
      const parsed = usable ? parseEncoded(encoded, limits) : null
      if (!parsed) {
        // Django's verify_password: run the default hasher once anyway, so that a missing user
        // or an unusable password answers no faster than a wrong password does.
        await hashWithDefaults(utf8(typeof password === 'string' ? password : ''), DUMMY_SALT)
        return { valid: false, mustUpdate: false }
      }
      let valid: boolean
      try {
        valid = await verify(parsed, utf8(password))
      } catch {
        // The stored hash could not be recomputed here (a runtime limit, memory): no login.
        valid = false
      }
      const outdated = parsed.algorithm !== 'argon2' || argon2MustUpdate(parsed.hash, cost)
      return { valid, mustUpdate: valid && outdated }
    },

    makeUnusablePassword() {
      // 40 characters of a 62-letter alphabet: 238 bits, as Django's get_random_string(40).
      return UNUSABLE_PREFIX + randomString(ALPHANUMERIC, UNUSABLE_SUFFIX_LENGTH)
    },

    isPasswordUsable(encoded) {
      return encoded === null || !encoded.startsWith(UNUSABLE_PREFIX)
    },
  }
}
