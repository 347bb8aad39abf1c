/**
 * The few Python `str` operations Django's validators rely on, with Python's semantics rather
 * than JavaScript's: Python counts and compares code points (JavaScript strings are UTF-16 code
 * units), and its `isdigit()`, `strip()` and `\W` each use their own Unicode sets. The sets were
 * checked code point by code point against CPython 3.11 (Unicode 14); characters added to
 * Unicode later follow the runtime's newer tables, as a newer Python would.
 */

/** A string as Python sees it: one element per code point, so astral characters count once. */
export function codePoints(text: string): string[] {
  return Array.from(text)
}

/** Python's `len(text)`: code points, not UTF-16 code units. */
export function pyLen(text: string): number {
  let length = 0
  for (const _ of text) length++
  return length
}

/**
 * Python's whitespace (`str.isspace`): unlike JavaScript's `trim()` it includes U+001C..U+001F
 * and excludes U+FEFF.
 */
const PY_SPACE =
  '\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000'
const PY_STRIP = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'g')

/** Python's `text.strip()`. */
export function pyStrip(text: string): string {
  return text.replace(PY_STRIP, '')
}

/**
 * Characters whose Unicode Numeric_Type is Digit but that are not decimal digits (general
 * category Nd): superscripts, subscripts, circled and parenthesized digits and the like.
 * JavaScript has no property escape for Numeric_Type, so they are listed.
 */
const DIGIT_NOT_DECIMAL =
  '\\u00b2\\u00b3\\u00b9\\u1369-\\u1371\\u19da\\u2070\\u2074-\\u2079\\u2080-\\u2089' +
  '\\u2460-\\u2468\\u2474-\\u247c\\u2488-\\u2490\\u24ea\\u24f5-\\u24fd\\u24ff' +
  '\\u2776-\\u277e\\u2780-\\u2788\\u278a-\\u2792\\u{10a40}-\\u{10a43}\\u{10e60}-\\u{10e68}' +
  '\\u{11052}-\\u{1105a}\\u{1f100}-\\u{1f10a}'
const PY_DIGITS = new RegExp(`^[\\p{Nd}${DIGIT_NOT_DECIMAL}]+$`, 'u')

/** Python's `text.isdigit()`: not empty, and every character a digit (Nd, or Numeric_Type=Digit). */
export function pyIsDigit(text: string): boolean {
  return PY_DIGITS.test(text)
}

/** Python's `\W+` on `str` patterns: a word character is a letter, a number or `_`. */
const PY_NON_WORD = /[^\p{L}\p{N}_]+/u

/**
 * Python's `re.split(r'\W+', text)`: keeps the empty strings a leading or trailing separator
 * leaves, as Python does (JavaScript's `split` with a regex does the same).
 */
export function pySplitNonWord(text: string): string[] {
  return text.split(PY_NON_WORD)
}

/**
 * Python's `text.lower()`. Both follow Unicode's full default case mapping (İ becomes i̇, a
 * final Σ becomes ς), so `toLowerCase()` matches it for every code point Python 3.11 knows.
 */
export function pyLower(text: string): string {
  return text.toLowerCase()
}
