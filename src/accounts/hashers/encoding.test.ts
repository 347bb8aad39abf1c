import { describe, expect, it } from 'vitest'
import { decodeBase64, encodeBase64, utf8 } from './encoding'

describe('base64', () => {
  it('round-trips with and without padding, as Python and argon2 write it', () => {
    const bytes = utf8('any carnal pleas')
    expect(encodeBase64(bytes, true)).toBe('YW55IGNhcm5hbCBwbGVhcw==')
    expect(encodeBase64(bytes, false)).toBe('YW55IGNhcm5hbCBwbGVhcw')
    expect(decodeBase64('YW55IGNhcm5hbCBwbGVhcw==', true)).toEqual(bytes)
    expect(decodeBase64('YW55IGNhcm5hbCBwbGVhcw', false)).toEqual(bytes)
  })

  it('refuses every spelling that is not the canonical one', () => {
    expect(decodeBase64('YW55IGNhcm5hbCBwbGVhcw', true)).toBeNull() // padding missing
    expect(decodeBase64('YW55IGNhcm5hbCBwbGVhcw==', false)).toBeNull() // padding present
    expect(decodeBase64('YW55IGNhcm5hbCBwbGVhcx==', true)).toBeNull() // stray trailing bits
    expect(decodeBase64('YW55-GNh', true)).toBeNull() // URL-safe alphabet
    expect(decodeBase64('YW55 GNh', true)).toBeNull() // whitespace
    expect(decodeBase64('YW55I', false)).toBeNull() // impossible length
  })

  it('encodes passwords as UTF-8 without normalizing or stopping at NUL', () => {
    expect(utf8('a\0b')).toEqual(Uint8Array.of(0x61, 0, 0x62))
    // U+00E9 precomposed and e + U+0301 combining stay different byte strings.
    expect(utf8('\u00e9')).toEqual(Uint8Array.of(0xc3, 0xa9))
    expect(utf8('e\u0301')).toEqual(Uint8Array.of(0x65, 0xcc, 0x81))
  })
})
