/**
 * How a request path may be read: the one rule behind the proxy's policy and `/auth/verify`.
 *
 * The gateway decides on a path, then the origin reads the same bytes its own way. Servers
 * disagree: Tomcat, Jetty and Spring cut path parameters out of every segment (`/admin;x/users`,
 * and `..;` is then a dot segment), Express, IIS and ASP.NET route case-insensitively, IIS and
 * Windows drop the trailing dots and spaces of a segment (`/admin./`), some stacks decode twice
 * (`/%2561dmin`), some fold Unicode by NFKC (`/ａｄｍｉｎ`, `ſ`, the Kelvin sign), some read `\`
 * as `/` or merge `//`, and a few do none of it. So a path is either refused, because the gateway
 * cannot read it one way only, or turned into every reading such an origin could make; the
 * policy then takes the strictest answer over all of them (policy.ts).
 *
 * Refused (`readPath` returns null):
 * - a raw control character: C0 (tab, CR and LF included), DEL or C1;
 * - a `%` not followed by two hex digits (a malformed escape, IIS's `%u0061` included);
 * - escapes that are not UTF-8 (`%C0%AE`, an overlong `.`; `%ED%A0%80`, a surrogate; `%E9`,
 *   Latin-1): origins that decode them disagree on what they mean;
 * - an escaped control character (`%00`, `%0A`, `%7F`, `%C2%85`);
 * - anything a second decoding would change: after one decoding (and after NFKC, which turns
 *   `％` into `%`), a `%` still followed by two hex digits, or by `u` and four (`%2561`,
 *   `%25%36%31`, `%EF%BC%8561`). A lone `%` stays readable: `/100%25` is `/100%`;
 * - a segment made only of dots and spaces other than `.` and `..` (`...`, `.. `, `%20`): Windows
 *   trims it to nothing or to a dot segment, other servers keep it;
 * - a path with more than MAX_READINGS readings (in practice only a crafted one).
 *
 * Ordinary paths (`/api/items/42`, `/a%20b`, `/caf%C3%A9`, `/files/report.pdf`, `/a%2Fb`) are
 * readable, and each has one or a few readings.
 */

/** One way an origin may read a path. */
export interface PathReading {
  /** The path as that origin sees it (percent-decoded or not, depending on the reading). */
  readonly path: string
  /** Whether that origin compares case-insensitively: match it with case-folded globs. */
  readonly folded: boolean
}

/**
 * More readings than this and the path is refused, which also bounds the work per request (about
 * a millisecond at the limit). Every step works on the whole path, so the count depends on which
 * tricks a path combines, not on its length: ordinary paths have 2, a path with an escape 4, and
 * thousands of generated spellings of a staff path in the tests at most 96.
 */
export const MAX_READINGS = 128

/** Whether `text` holds a C0 control (tab, CR and LF included), DEL or a C1 control. */
export function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return true
  }
  return false
}

const ESCAPE_RUN = /(?:%[0-9A-Fa-f]{2})+/g
/** What a second decoding would decode: a `%` and two hex digits, or IIS's `%u` and four. */
const DECODES_AGAIN = /%(?:[0-9A-Fa-f]{2}|[uU][0-9A-Fa-f]{4})/
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** The UTF-8 text of a run of escapes, or null when the bytes are not UTF-8. */
function decodeRun(run: string): string | null {
  const bytes = new Uint8Array(run.length / 3)
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = Number.parseInt(run.slice(i * 3 + 1, i * 3 + 3), 16)
  }
  try {
    return UTF8.decode(bytes)
  } catch {
    // Fatal mode refuses overlong forms, surrogates, code points past U+10FFFF and cut sequences.
    return null
  }
}

/**
 * The path with every run of escapes decoded as UTF-8 (a run that is not UTF-8 is left as it
 * is; `readPath` refuses such paths before this runs). Other characters, and a `%` that starts
 * no escape, are kept.
 */
function percentDecode(path: string): string {
  if (!path.includes('%')) return path
  return path.replace(ESCAPE_RUN, (run) => decodeRun(run) ?? run)
}

/**
 * The path with raw characters outside printable ASCII percent-encoded as UTF-8, as a URL parser
 * does, or null for a control character or a lone surrogate. A header can carry raw bytes where a
 * request URL cannot; this makes both read alike.
 */
function asciiPath(path: string): string | null {
  if (hasControlCharacter(path)) return null
  if (/^[\x20-\x7e]*$/.test(path)) return path
  let ascii = ''
  for (const char of path) {
    if (char.length === 1 && char.charCodeAt(0) >= 0xd800 && char.charCodeAt(0) <= 0xdfff) {
      return null
    }
    ascii += char <= '\x7e' ? char : encodeURIComponent(char)
  }
  return ascii
}

/** Applies `edit` to every segment of a path. */
function eachSegment(path: string, edit: (segment: string) => string): string {
  return path.split('/').map(edit).join('/')
}

/** A segment made only of dots and spaces: Windows trims it, so it needs care. */
const DOTS_AND_SPACES = /^[. ]+$/
/** A dot segment, `.` or `..`, spelled with literal or escaped dots (URL parsers accept `%2e`). */
const DOT = /^(?:\.|%2e)$/i
const DOT_DOT = /^(?:\.|%2e){2}$/i

/** RFC 3986 §5.2.4 remove_dot_segments, reading `%2e` as `.` as the WHATWG URL parser does. */
function resolveDotSegments(path: string): string {
  if (!path.includes('.') && !/%2e/i.test(path)) return path
  const parts = path.split('/')
  const kept: string[] = []
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i] as string
    const last = i === parts.length - 1
    const dotDot = DOT_DOT.test(part)
    if (dotDot || DOT.test(part)) {
      if (dotDot) kept.pop()
      // `/a/b/..` is `/a/`: the directory, not the file `a`.
      if (last) kept.push('')
      continue
    }
    kept.push(part)
  }
  return `/${kept.join('/')}`
}

/** Tomcat, Jetty and Spring: `;` and what follows it, up to the next `/`, is not the path. */
function stripPathParameters(path: string): string {
  if (!path.includes(';')) return path
  return eachSegment(path, (segment) => {
    const index = segment.indexOf(';')
    return index < 0 ? segment : segment.slice(0, index)
  })
}

/** Windows: `admin.` and `admin ` name `admin`. Dots-and-spaces segments are refused instead. */
function stripTrailingDotsAndSpaces(path: string): string {
  if (!/[. ](?:\/|$)/.test(path)) return path
  return eachSegment(path, (segment) =>
    DOTS_AND_SPACES.test(segment) ? segment : segment.replace(/[. ]+$/, ''),
  )
}

/**
 * NFKC then lower case, then NFKC again (lower-casing can leave a string NFKC would change): `ſ`
 * is `s`, the Kelvin sign is `k`, `ＡＤＭＩＮ` is `admin`. Used for folded globs too (policy.ts).
 */
export function foldCase(text: string): string {
  if (/^[\x20-\x7e]*$/.test(text)) return text.toLowerCase()
  return text.normalize('NFKC').toLowerCase().normalize('NFKC')
}

/** NFKC, skipped for ASCII, which it never changes. */
function nfkc(text: string): string {
  return /^[\x20-\x7e]*$/.test(text) ? text : text.normalize('NFKC')
}

/**
 * A path no step changes, except case folding: segments of unreserved characters and
 * sub-delimiters other than `;`, with dots only inside a segment, no `%`, `\\`, `//` or space.
 */
const PLAIN = /^(?:\/[\w~!$&'()*+,=:@-]+(?:\.+[\w~!$&'()*+,=:@-]+)*)*\/?$/

/** The steps an origin may take, each on the whole path; `fold` also marks the reading folded. */
const STEPS: readonly ((path: string) => string)[] = [
  percentDecode,
  (path) => (path.includes('\\') ? path.replaceAll('\\', '/') : path),
  (path) => (path.includes('//') ? path.replace(/\/{2,}/g, '/') : path),
  resolveDotSegments,
  stripPathParameters,
  stripTrailingDotsAndSpaces,
  nfkc,
]

/**
 * Every reading of `path` (a URL pathname, or the path of a forward-auth URI), or null when the
 * gateway cannot read it one way only (see the module comment) or it does not start with `/`.
 *
 * Why a closure and not two forms. Matching the path as sent and one fully canonical form (every
 * step applied) is not enough, because resolving dot segments can remove the segment that made a
 * path staff-only: `/admin;x/../public` as sent and canonical (`/public`) are both outside
 * `/admin/**`, but an origin that strips parameters and does not resolve dot segments routes
 * `/admin/../public` to its admin handler; `/ADMIN/../public` and `/admin./..;/x` likewise. The
 * steps also fail to commute (NFKC turns `‥` into `..` only if it runs before dot segments are
 * resolved; stripping `;` turns `..;` into `..` only if it runs first). So the readings are the
 * path as sent and everything reachable from it by applying any step, to any reading, in any
 * order: whatever subset and order of these steps an origin takes, its reading is in the set.
 * Case folding is one more step; a reading reached through it is marked `folded` and matched
 * with case-folded globs. Percent-decoding is applied once only: a path that a second decoding
 * would change is refused, so after one decoding the step changes nothing. The model is the
 * servers named above, each step applying to the whole path; an origin that decodes each segment
 * after splitting keeps `%2F` inside its segment, as the reading as sent does.
 */
export function readPath(path: string): PathReading[] | null {
  if (!path.startsWith('/')) return null
  if (PLAIN.test(path)) {
    // Most paths hold nothing any step but folding changes: the closure would find these two.
    return [
      { path, folded: false },
      { path: path.toLowerCase(), folded: true },
    ]
  }
  const sent = asciiPath(path)
  if (sent === null || /%(?![0-9A-Fa-f]{2})/.test(sent)) return null
  for (const run of sent.match(ESCAPE_RUN) ?? []) if (decodeRun(run) === null) return null
  // Checked once, on the whole decoded path, not per reading: the steps only cut whole segments
  // or segment tails that end at a `/`, so none puts two hex digits after a `%` that lacked them.
  const decoded = percentDecode(sent)
  const unicode = nfkc(decoded)
  if (hasControlCharacter(unicode) || DECODES_AGAIN.test(decoded) || DECODES_AGAIN.test(unicode)) {
    return null
  }

  const readings = new Map<string, PathReading>()
  const pending: PathReading[] = []
  const add = (reading: PathReading): boolean => {
    const key = `${reading.folded ? 'f' : 's'}${reading.path}`
    if (readings.has(key)) return true
    if (readings.size >= MAX_READINGS) return false
    if (reading.path.split('/').some((s) => DOTS_AND_SPACES.test(s) && s !== '.' && s !== '..')) {
      return false
    }
    readings.set(key, reading)
    pending.push(reading)
    return true
  }
  if (!add({ path: sent, folded: false })) return null
  for (let reading = pending.pop(); reading; reading = pending.pop()) {
    for (const step of STEPS) {
      if (!add({ path: step(reading.path), folded: reading.folded })) return null
    }
    if (!add({ path: foldCase(reading.path), folded: true })) return null
  }
  return [...readings.values()]
}
