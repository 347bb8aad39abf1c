import { describe, expect, it } from 'vitest'
import { constantTimeEqual } from './crypto'

describe('constantTimeEqual', () => {
  it('is true only for byte-for-byte equal arrays', () => {
    expect(constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 3))).toBe(true)
    expect(constantTimeEqual(new Uint8Array(0), new Uint8Array(0))).toBe(true)
    expect(constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 4))).toBe(false)
    expect(constantTimeEqual(Uint8Array.of(0, 2, 3), Uint8Array.of(1, 2, 3))).toBe(false)
  })

  it('compares strings by their UTF-8 bytes, and strings with bytes', () => {
    expect(constantTimeEqual('café', 'café')).toBe(true)
    expect(constantTimeEqual('café', 'cafe')).toBe(false)
    expect(constantTimeEqual('abc', Uint8Array.of(97, 98, 99))).toBe(true)
  })

  it('is false when only the lengths differ (a prefix is not a match)', () => {
    expect(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 3))).toBe(false)
    expect(constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2))).toBe(false)
  })
})
