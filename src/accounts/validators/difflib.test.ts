import { describe, expect, it } from 'vitest'
import { SequenceMatcher } from './difflib'

/**
 * Expected values computed by CPython 3.11's difflib, e.g.
 * `python3 -c "from difflib import SequenceMatcher as S; s = S(None, a, b); print(s.ratio(), ...)"`.
 * Columns: a, b, ratio(), quick_ratio(), real_quick_ratio(), get_matching_blocks().
 */
const CPYTHON: [string, string, number, number, number, [number, number, number][]][] = [
  [
    'password123',
    'password',
    0.8421052631578947,
    0.8421052631578947,
    0.8421052631578947,
    [
      [0, 0, 8],
      [11, 8, 0],
    ],
  ],
  [
    'johnsmith1',
    'john.smith@example.com',
    0.5625,
    0.5625,
    0.625,
    [
      [0, 0, 4],
      [4, 5, 5],
      [10, 22, 0],
    ],
  ],
  [
    'abcd',
    'bcde',
    0.75,
    0.75,
    1.0,
    [
      [1, 0, 3],
      [4, 4, 0],
    ],
  ],
  [
    'emanresu',
    'username',
    0.375,
    1.0,
    1.0,
    [
      [0, 2, 1],
      [1, 6, 1],
      [5, 7, 1],
      [8, 8, 0],
    ],
  ],
  ['', '', 1.0, 1.0, 1.0, [[0, 0, 0]]],
  ['a', '', 0.0, 0.0, 0.0, [[1, 0, 0]]],
  [
    'qabxcd',
    'abycdf',
    0.6666666666666666,
    0.6666666666666666,
    1.0,
    [
      [1, 0, 2],
      [4, 3, 2],
      [6, 6, 0],
    ],
  ],
  [
    'private volume',
    'private',
    0.6666666666666666,
    0.6666666666666666,
    0.6666666666666666,
    [
      [0, 0, 7],
      [14, 7, 0],
    ],
  ],
  [
    'ada lovelace 1815',
    'lovelace',
    0.64,
    0.64,
    0.64,
    [
      [4, 0, 8],
      [17, 8, 0],
    ],
  ],
  [
    'tested',
    'test',
    0.8,
    0.8,
    0.8,
    [
      [0, 0, 4],
      [6, 4, 0],
    ],
  ],
  [
    '😀😀x',
    '😀x',
    0.8,
    0.8,
    0.8,
    [
      [1, 0, 2],
      [3, 2, 0],
    ],
  ],
  [
    'σίσυφος',
    'σίσυφος',
    1.0,
    1.0,
    1.0,
    [
      [0, 0, 7],
      [7, 7, 0],
    ],
  ],
  [
    'the quick brown fox',
    'the quick brown fox jumps over the lazy dog',
    0.6129032258064516,
    0.6129032258064516,
    0.6129032258064516,
    [
      [0, 0, 19],
      [19, 43, 0],
    ],
  ],
  [
    'correct horse battery staple',
    'horse',
    0.30303030303030304,
    0.30303030303030304,
    0.30303030303030304,
    [
      [8, 0, 5],
      [28, 5, 0],
    ],
  ],
  [
    'aaaaaaaaab',
    'aaab',
    0.5714285714285714,
    0.5714285714285714,
    0.5714285714285714,
    [
      [6, 0, 4],
      [10, 4, 0],
    ],
  ],
]

describe('SequenceMatcher', () => {
  it.each(CPYTHON)('matches CPython for %j vs %j', (a, b, ratio, quick, realQuick, blocks) => {
    const matcher = new SequenceMatcher(a, b)
    expect(matcher.ratio()).toBe(ratio)
    expect(matcher.quickRatio()).toBe(quick)
    expect(matcher.realQuickRatio()).toBe(realQuick)
    expect(matcher.getMatchingBlocks().map(({ a, b, size }) => [a, b, size])).toEqual(blocks)
  })

  it('applies autojunk only when b has 200 or more elements, as CPython', () => {
    // CPython: S(None, a, b).ratio() and S(None, a, b, autojunk=False).ratio().
    const a = `${'a'.repeat(10)}b`
    const b = `${'ab'.repeat(100)}c`
    expect(new SequenceMatcher(a, b).ratio()).toBe(0.009433962264150943)
    expect(new SequenceMatcher(a, b, false).ratio()).toBe(0.018867924528301886)
    const long = `${'x'.repeat(5)}${'ab'.repeat(150)}`
    const popular = `${'ab'.repeat(150)}${'y'.repeat(10)}`
    const matcher = new SequenceMatcher(long, popular)
    expect(matcher.ratio()).toBe(0)
    expect(matcher.quickRatio()).toBe(0.975609756097561)
    expect(new SequenceMatcher('abab', 'ab'.repeat(99)).ratio()).toBe(0.039603960396039604)
  })

  it('extends a match over popular elements at its ends, as CPython', () => {
    let cycle = ''
    for (let i = 0; i < 230; i++) cycle += String.fromCharCode(0x61 + ((i * 7) % 26))
    const b = `qeeew${cycle}eeeee`
    const a = `qeeew${cycle.slice(0, 20)}zzzeee`
    const matcher = new SequenceMatcher(a, b)
    expect(matcher.getMatchingBlocks()).toEqual([
      { a: 0, b: 0, size: 25 },
      { a: 31, b: 240, size: 0 },
    ])
    expect(matcher.ratio()).toBe(0.18450184501845018)
    expect(new SequenceMatcher(a, b, false).ratio()).toBe(0.22878228782287824)
  })
})
