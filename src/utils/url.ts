/** URL helpers that work in workerd and in Node 20 (which lacks `URL.parse`). */

/** The parsed URL, or null when `text` is not an absolute URL. */
export function parseUrl(text: string): URL | null {
  try {
    return new URL(text)
  } catch {
    return null
  }
}
