/**
 * Signed-in clients for `npm run bench:peers`: a cookie jar per session, better-auth's users
 * signed up through its own API, and the refresh of a session-cache cookie before a cached run.
 */
import { BENCH_PASSWORD, type BenchSession, benchUsername } from '../seed'

/** One signed-in client: the `Cookie` header it sends, updated from what it is answered. */
export interface CookieJar {
  cookie: string
}

/** `a=1; b=2` with each `Set-Cookie` of `setCookies` applied (an emptied cookie is dropped). */
export function mergeCookies(cookie: string, setCookies: readonly string[]): string {
  const jar = new Map<string, string>()
  for (const pair of cookie.split(';')) {
    const index = pair.indexOf('=')
    if (index > 0) jar.set(pair.slice(0, index).trim(), pair.slice(index + 1).trim())
  }
  for (const header of setCookies) {
    const [pair = ''] = header.split(';')
    const index = pair.indexOf('=')
    if (index <= 0) continue
    const name = pair.slice(0, index).trim()
    const value = pair.slice(index + 1).trim()
    if (value === '' || /;\s*max-age=0\b/i.test(header)) jar.delete(name)
    else jar.set(name, value)
  }
  return [...jar].map(([name, value]) => `${name}=${value}`).join('; ')
}

/** sessiongate's logged-in sessions as jars (each keeps its `sessionid` and `csrftoken`). */
export function jarsOf(sessions: readonly BenchSession[]): CookieJar[] {
  return sessions.map((session) => ({ cookie: session.cookie }))
}

/** The e-mail of the n-th bench user at better-auth (the same names as sessiongate's users). */
export function peerEmail(index: number): string {
  return `${benchUsername(index)}@bench.example`
}

/** A JSON POST as a browser on the Worker's own origin sends it (better-auth checks `Origin`). */
export function peerPost(url: URL, body: unknown): RequestInit {
  return {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Origin: url.origin },
    body: JSON.stringify(body),
  }
}

/** Runs `task` for 0..count-1, `concurrency` at a time, and keeps the results in order. */
async function inLanes<T>(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = new Array(count)
  let next = 0
  const lane = async () => {
    while (next < count) {
      const index = next++
      results[index] = await task(index)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane))
  return results
}

/**
 * Signs `count` users up at better-auth (`POST /api/auth/sign-up/email`, which signs them in),
 * two at a time: each sign-up hashes the password with scrypt in the Worker's one thread.
 */
export function signUpPeers(url: URL, count: number): Promise<CookieJar[]> {
  return inLanes(count, 2, async (index) => {
    const email = peerEmail(index + 1)
    const response = await fetch(
      new URL('/api/auth/sign-up/email', url),
      peerPost(url, { email, password: BENCH_PASSWORD, name: benchUsername(index + 1) }),
    )
    const text = await response.text()
    if (response.status !== 200) throw new Error(`sign-up ${email}: ${response.status} ${text}`)
    const cookie = mergeCookies('', response.headers.getSetCookie())
    if (!cookie.includes('session_token=')) throw new Error(`sign-up ${email}: no session cookie`)
    return { cookie }
  })
}

/**
 * Sends one GET of `path` with each jar's cookie and keeps the cookies it is answered: before a
 * run on a session cache (sessiongate's SESSION_CACHE_SECONDS, better-auth's cookie cache), each
 * client then holds a fresh copy, as a browser would, since the load generator keeps no cookies.
 * A response that is not 200, or a better-auth answer without a session, is an error: the runs
 * that follow would measure a signed-out client.
 */
export async function refreshJars(url: URL, path: string, jars: CookieJar[]): Promise<void> {
  await inLanes(jars.length, 4, async (index) => {
    const jar = jars[index] as CookieJar
    const response = await fetch(new URL(path, url), {
      headers: { Accept: 'application/json', Cookie: jar.cookie },
    })
    const body = (await response.json().catch(() => null)) as { session?: unknown } | null
    if (response.status !== 200 || body === null || ('session' in body && !body.session)) {
      throw new Error(`GET ${path}: ${response.status}, not signed in`)
    }
    jar.cookie = mergeCookies(jar.cookie, response.headers.getSetCookie())
  })
}
