import { generateHOTP } from '@oslojs/otp'
import { describe, expect, it } from 'vitest'
import { isTotpCode, matchTotp, otpauthUrl, TotpSealer, totpSecretText, totpStep } from './totp'

/** RFC 6238 appendix B: the SHA-1 seed is the ASCII of "12345678901234567890". */
const RFC_SEED = new TextEncoder().encode('12345678901234567890')

/** RFC 6238 appendix B, SHA-1 rows: time (s) → T (hex) and the 8-digit TOTP. */
const RFC_VECTORS: [number, string, string][] = [
  [59, '0000000000000001', '94287082'],
  [1111111109, '00000000023523EC', '07081804'],
  [1111111111, '00000000023523ED', '14050471'],
  [1234567890, '000000000273EF07', '89005924'],
  [2000000000, '0000000003F940AA', '69279037'],
  [20000000000, '0000000027BC86AA', '65353130'],
]

describe('TOTP (RFC 6238)', () => {
  it.each(RFC_VECTORS)('gives the RFC 6238 SHA-1 test vector at %i s', (seconds, hexStep, totp) => {
    const step = totpStep(seconds * 1000)
    expect(step).toBe(Number.parseInt(hexStep, 16))
    expect(generateHOTP(RFC_SEED, BigInt(step), 8)).toBe(totp)
    // Six digits are the same number modulo 10^6: the last six of the 8-digit vector.
    expect(matchTotp(RFC_SEED, totp.slice(2), seconds * 1000, null)).toBe(step)
  })

  it('accepts one step of drift either way, and no more', () => {
    const now = 1_111_111_111_000
    const step = totpStep(now)
    const code = (offset: number) => generateHOTP(RFC_SEED, BigInt(step + offset), 6)
    expect(matchTotp(RFC_SEED, code(-1), now, null)).toBe(step - 1)
    expect(matchTotp(RFC_SEED, code(1), now, null)).toBe(step + 1)
    expect(matchTotp(RFC_SEED, code(-2), now, null)).toBeNull()
    expect(matchTotp(RFC_SEED, code(2), now, null)).toBeNull()
  })

  it('refuses the code of the step used last, and of any step before it', () => {
    const now = 1_234_567_890_000
    const step = totpStep(now)
    const current = generateHOTP(RFC_SEED, BigInt(step), 6)
    const previous = generateHOTP(RFC_SEED, BigInt(step - 1), 6)
    expect(matchTotp(RFC_SEED, current, now, step)).toBeNull()
    expect(matchTotp(RFC_SEED, previous, now, step - 1)).toBeNull()
    expect(matchTotp(RFC_SEED, previous, now, step)).toBeNull()
    expect(matchTotp(RFC_SEED, current, now, step - 1)).toBe(step)
  })

  it('ignores spaces, and refuses what is not six digits', () => {
    const now = 59_000
    expect(matchTotp(RFC_SEED, '287 082', now, null)).toBe(1)
    for (const code of ['', '28708', '2870821', 'abcdef', '28708２', '94287082']) {
      expect(matchTotp(RFC_SEED, code, now, null)).toBeNull()
    }
    expect(isTotpCode('123 456')).toBe(true)
    expect(isTotpCode('abcde-fghjk')).toBe(false)
  })

  it('writes the otpauth URL apps read from a QR code', () => {
    const text = otpauthUrl('example.com', 'ada@lovelace', RFC_SEED)
    expect(text.startsWith('otpauth://totp/example.com:ada%40lovelace?')).toBe(true)
    const url = new URL(text)
    expect(Object.fromEntries(url.searchParams)).toEqual({
      issuer: 'example.com',
      algorithm: 'SHA1',
      secret: totpSecretText(RFC_SEED),
      period: '30',
      digits: '6',
    })
    expect(totpSecretText(RFC_SEED)).toBe('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ')
  })
})

describe('TotpSealer', () => {
  const KEY = 'a-secret-key-for-the-totp-sealer-tests-0123456789'
  const OLD = 'an-older-secret-key-for-the-totp-sealer-tests-4567'

  it('seals a secret that only its user opens, never in clear', async () => {
    const sealer = new TotpSealer([KEY])
    const sealed = await sealer.seal(7, RFC_SEED)
    expect(sealed).toMatch(/^v1\.[\w-]+\.[\w-]+$/)
    expect(sealed).not.toContain(totpSecretText(RFC_SEED))
    expect(await sealer.open(7, sealed)).toEqual({ secret: RFC_SEED, stale: false })
    expect(await sealer.open(8, sealed)).toBeNull()
    expect(await new TotpSealer([OLD]).open(7, sealed)).toBeNull()
  })

  it('opens secrets sealed under a key now in SECRET_KEY_FALLBACKS, marked stale', async () => {
    const sealed = await new TotpSealer([OLD]).seal(7, RFC_SEED)
    expect(await new TotpSealer([KEY, OLD]).open(7, sealed)).toEqual({
      secret: RFC_SEED,
      stale: true,
    })
  })

  it('opens nothing malformed', async () => {
    const sealer = new TotpSealer([KEY])
    for (const stored of ['', 'v1', 'v1..', 'v2.a.b', 'v1.!!.??', 'v1.AAAA.AAAA']) {
      expect(await sealer.open(7, stored)).toBeNull()
    }
  })
})
