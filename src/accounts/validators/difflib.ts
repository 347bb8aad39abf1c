/**
 * Python's `difflib.SequenceMatcher`, for two strings compared code point by code point, as
 * Python compares `str`. Django's UserAttributeSimilarityValidator decides with `quick_ratio()`,
 * so the similarity check here gives exactly Django's answer; `ratio()` and the matching blocks
 * are ported faithfully too (CPython 3.11 `Lib/difflib.py`, no `isjunk`), and pinned in the tests
 * against values computed by CPython itself.
 */
import { codePoints } from './python'

/** One matching block: `a[a .. a+size]` equals `b[b .. b+size]` (Python's `Match`). */
export interface Match {
  a: number
  b: number
  size: number
}

/** difflib's `_calculate_ratio`: two sequences that are both empty are identical. */
function calculateRatio(matches: number, length: number): number {
  return length ? (2 * matches) / length : 1
}

/** Python's `difflib.SequenceMatcher(None, a, b, autojunk)`, for strings. */
export class SequenceMatcher {
  readonly #a: string[]
  readonly #b: string[]
  /** For each element of b, the indices where it occurs (popular elements removed). */
  readonly #b2j = new Map<string, number[]>()
  #fullBCount: Map<string, number> | null = null
  #matchingBlocks: Match[] | null = null

  /**
   * @param a the first string.
   * @param b the second string: the one that is indexed.
   * @param autojunk difflib's heuristic, default true: when b has 200 or more elements, those
   *   occurring more than 1% of the time (+1) are not used as anchors for matches. It never
   *   applies to a password's user attributes, which are far shorter.
   */
  constructor(a: string, b: string, autojunk = true) {
    this.#a = codePoints(a)
    this.#b = codePoints(b)
    this.#b.forEach((element, index) => {
      const indices = this.#b2j.get(element)
      if (indices) indices.push(index)
      else this.#b2j.set(element, [index])
    })
    const n = this.#b.length
    if (autojunk && n >= 200) {
      const limit = Math.floor(n / 100) + 1
      for (const [element, indices] of [...this.#b2j]) {
        if (indices.length > limit) this.#b2j.delete(element)
      }
    }
  }

  /**
   * The longest matching block in `a[alo..ahi]` and `b[blo..bhi]`, the earliest in a and then in
   * b among equals (difflib's `find_longest_match`). Without `isjunk` there is no junk to absorb,
   * but popular elements removed by autojunk still extend a match at either end.
   */
  findLongestMatch(alo = 0, ahi = this.#a.length, blo = 0, bhi = this.#b.length): Match {
    const a = this.#a
    const b = this.#b
    let bestI = alo
    let bestJ = blo
    let bestSize = 0
    let j2len = new Map<number, number>()
    for (let i = alo; i < ahi; i++) {
      const next = new Map<number, number>()
      for (const j of this.#b2j.get(a[i] as string) ?? []) {
        if (j < blo) continue
        if (j >= bhi) break
        const k = (j2len.get(j - 1) ?? 0) + 1
        next.set(j, k)
        if (k > bestSize) {
          bestI = i - k + 1
          bestJ = j - k + 1
          bestSize = k
        }
      }
      j2len = next
    }
    while (bestI > alo && bestJ > blo && a[bestI - 1] === b[bestJ - 1]) {
      bestI--
      bestJ--
      bestSize++
    }
    while (
      bestI + bestSize < ahi &&
      bestJ + bestSize < bhi &&
      a[bestI + bestSize] === b[bestJ + bestSize]
    ) {
      bestSize++
    }
    return { a: bestI, b: bestJ, size: bestSize }
  }

  /**
   * The matching blocks, in order, adjacent ones merged, ending with the sentinel
   * `{a: len(a), b: len(b), size: 0}` (difflib's `get_matching_blocks`).
   */
  getMatchingBlocks(): Match[] {
    if (this.#matchingBlocks) return this.#matchingBlocks
    const la = this.#a.length
    const lb = this.#b.length
    const queue: [number, number, number, number][] = [[0, la, 0, lb]]
    const blocks: Match[] = []
    for (let range = queue.pop(); range; range = queue.pop()) {
      const [alo, ahi, blo, bhi] = range
      const match = this.findLongestMatch(alo, ahi, blo, bhi)
      const { a: i, b: j, size: k } = match
      if (k) {
        blocks.push(match)
        if (alo < i && blo < j) queue.push([alo, i, blo, j])
        if (i + k < ahi && j + k < bhi) queue.push([i + k, ahi, j + k, bhi])
      }
    }
    blocks.sort((x, y) => x.a - y.a || x.b - y.b || x.size - y.size)
    const merged: Match[] = []
    let current: Match = { a: 0, b: 0, size: 0 }
    for (const block of blocks) {
      if (current.a + current.size === block.a && current.b + current.size === block.b) {
        current = { ...current, size: current.size + block.size }
      } else {
        if (current.size) merged.push(current)
        current = block
      }
    }
    if (current.size) merged.push(current)
    merged.push({ a: la, b: lb, size: 0 })
    this.#matchingBlocks = merged
    return merged
  }

  /** 2·M / T, M the matched elements and T the elements of both (difflib's `ratio`). */
  ratio(): number {
    const matches = this.getMatchingBlocks().reduce((sum, block) => sum + block.size, 0)
    return calculateRatio(matches, this.#a.length + this.#b.length)
  }

  /**
   * An upper bound on `ratio()`: the elements the two have in common as multisets, order
   * ignored (difflib's `quick_ratio`). Django's similarity validator uses this one.
   */
  quickRatio(): number {
    if (!this.#fullBCount) {
      this.#fullBCount = new Map()
      for (const element of this.#b) {
        this.#fullBCount.set(element, (this.#fullBCount.get(element) ?? 0) + 1)
      }
    }
    const available = new Map<string, number>()
    let matches = 0
    for (const element of this.#a) {
      const count = available.get(element) ?? this.#fullBCount.get(element) ?? 0
      available.set(element, count - 1)
      if (count > 0) matches++
    }
    return calculateRatio(matches, this.#a.length + this.#b.length)
  }

  /** An upper bound on `quickRatio()` from the lengths alone (difflib's `real_quick_ratio`). */
  realQuickRatio(): number {
    const la = this.#a.length
    const lb = this.#b.length
    return calculateRatio(Math.min(la, lb), la + lb)
  }
}
