/**
 * Property-based tests: whatever a client sends to whichever route, the answer is never a 500 and
 * never shows a stack trace, and every client error is DRF's `{"detail": "..."}`. Runs are bounded
 * (200 requests per property, about 15 s for the file); each run draws new cases, and a failure
 * prints the seed and path that replay it (`fc.assert(..., { seed, path })`).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { validatePassword } from '../../src/accounts/validators'
import { SequenceMatcher } from '../../src/accounts/validators/difflib'
import { Client, createUser, workerFetch } from '../helpers'

const PATHS = [
  '/auth/csrf',
  '/auth/login',
  '/auth/logout',
  '/auth/logout?everywhere=1',
  '/auth/me',
  '/auth/session',
  '/auth/password',
  '/auth/sessions',
  '/auth/sessions/x',
  '/healthz',
  '/no/such/path',
]
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'PROPFIND']

/**
 * Text that cannot spell a stack-trace marker by itself, so that a marker found in a response was
 * written by the server, not echoed from the request (a 415 names the media type it got).
 */
const MARKERS = /at |\.ts:|error:/i
const clean = (text: string) => !MARKERS.test(text)

/**
 * Header-safe text: printable ASCII. (Latin-1 bytes are legal too, but workerd re-encodes them as
 * UTF-8 with a warning per request, which would drown the test output.)
 */
const headerText = fc
  .string({
    unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
    maxLength: 80,
  })
  .filter(clean)
const anyText = fc.string({ unit: 'binary', maxLength: 200 }).filter(clean)

const contentType = fc.option(
  fc.oneof(
    fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'application/vnd.api+json',
      'application/x-www-form-urlencoded',
      'multipart/form-data',
      'multipart/form-data; boundary=xyz',
      'text/plain',
      'text/html',
      'application/octet-stream',
      '',
    ),
    headerText,
  ),
  { nil: undefined, freq: 6 },
)

/** Objects shaped like the API's bodies, with values of any type. */
const apiObject = fc.record(
  {
    username: fc.oneof(anyText, fc.jsonValue()),
    password: fc.oneof(anyText, fc.jsonValue()),
    old_password: fc.oneof(anyText, fc.jsonValue()),
    new_password: fc.oneof(anyText, fc.jsonValue()),
    data: fc.oneof(fc.dictionary(anyText, fc.jsonValue()), fc.jsonValue()),
    next: anyText,
    csrfmiddlewaretoken: anyText,
  },
  { requiredKeys: [] },
)

const body = fc.option(
  fc.oneof(
    anyText,
    fc.uint8Array({ maxLength: 200 }),
    fc.jsonValue().map((value) => JSON.stringify(value) ?? 'null'),
    { arbitrary: apiObject.map((value) => JSON.stringify(value)), weight: 3 },
    apiObject.map((value) =>
      new URLSearchParams(
        Object.entries(value).map(([key, item]) => [
          key,
          typeof item === 'string' ? item : JSON.stringify(item),
        ]),
      ).toString(),
    ),
    fc.constant('{"username": '),
    fc.constant('x'.repeat(17 * 1024)),
  ),
  { nil: undefined },
)

/** Mostly a well-formed value, so that requests get past the CSRF checks to the handlers. */
function mostly<T>(usual: fc.Arbitrary<T>, unusual: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> {
  return fc.oneof(
    { arbitrary: usual, weight: 3 },
    { arbitrary: fc.constant(undefined), weight: 2 },
    { arbitrary: unusual, weight: 1 },
  )
}

const request = fc.record({
  method: fc.oneof(
    { arbitrary: fc.constantFrom('GET', 'POST', 'PATCH', 'DELETE'), weight: 4 },
    { arbitrary: fc.constantFrom(...METHODS), weight: 1 },
  ),
  path: fc.oneof(
    { arbitrary: fc.constantFrom(...PATHS), weight: 5 },
    { arbitrary: anyText.map((id) => `/auth/sessions/${encodeURIComponent(id)}`), weight: 1 },
  ),
  body,
  contentType,
  /** Send the body as a stream, so that it has no Content-Length. */
  streamed: fc.boolean(),
  origin: mostly(
    fc.constant('http://localhost'),
    fc.oneof(fc.constantFrom('null', 'https://evil.example', 'http://localhost:1'), headerText),
  ),
  secFetchSite: mostly(
    fc.constantFrom('same-origin', 'none'),
    fc.oneof(fc.constantFrom('same-site', 'cross-site'), headerText),
  ),
  csrfHeader: mostly(fc.constant('<real>'), headerText),
  accept: fc.option(fc.oneof(fc.constantFrom('application/json', 'text/html', '*/*'), headerText), {
    nil: undefined,
  }),
  sessionCookie: mostly(
    fc.constant('<real>'),
    fc.oneof(headerText, fc.stringMatching(/^[a-z0-9]{32}$/)),
  ),
  csrfCookie: mostly(fc.constant('<real>'), headerText),
})

type Generated = typeof request extends fc.Arbitrary<infer T> ? T : never

/** Markers of a stack trace or a runtime error message that only the server could have written. */
function stackTraceIn(text: string): string | null {
  const found =
    /^\s*at\s/m.exec(text) ??
    /\bat \S+ \(.*:\d+:\d+\)/.exec(text) ??
    /\.ts:\d/.exec(text) ??
    /\b[A-Za-z]*Error:/.exec(text)
  return found ? found[0] : null
}

/** The Request a generated case describes, with the cookies of `session` where it says `<real>`. */
function toRequest(input: Generated, session: Map<string, string>): Request {
  const headers = new Headers()
  if (input.contentType !== undefined) headers.set('Content-Type', input.contentType)
  if (input.origin !== undefined) headers.set('Origin', input.origin)
  if (input.secFetchSite !== undefined) headers.set('Sec-Fetch-Site', input.secFetchSite)
  if (input.accept !== undefined) headers.set('Accept', input.accept)
  const real = (value: string | undefined, name: string) =>
    value === '<real>' ? session.get(name) : value
  const csrfHeader = real(input.csrfHeader, 'csrftoken')
  if (csrfHeader !== undefined) headers.set('X-CSRFToken', csrfHeader)
  const cookies: string[] = []
  const sessionCookie = real(input.sessionCookie, 'sessionid')
  const csrfCookie = real(input.csrfCookie, 'csrftoken')
  if (sessionCookie !== undefined) cookies.push(`sessionid=${sessionCookie}`)
  if (csrfCookie !== undefined) cookies.push(`csrftoken=${csrfCookie}`)
  if (cookies.length > 0) headers.set('Cookie', cookies.join('; '))

  let payload: BodyInit | undefined
  if (input.body !== undefined && input.method !== 'GET' && input.method !== 'HEAD') {
    const bytes = typeof input.body === 'string' ? new TextEncoder().encode(input.body) : input.body
    payload = input.streamed
      ? new ReadableStream({
          start(controller) {
            controller.enqueue(bytes)
            controller.close()
          },
        })
      : bytes
  }
  return new Request(`http://localhost${input.path}`, {
    method: input.method,
    headers,
    body: payload,
  })
}

/** Checks one response against the contract's promises about errors. */
async function checkResponse(input: Generated, response: Response): Promise<void> {
  const text = await response.text()
  const context = `${input.method} ${input.path} -> ${response.status} ${text.slice(0, 300)}`
  expect(response.status, context).toBeLessThan(500)
  expect(stackTraceIn(text), context).toBeNull()
  if (response.status < 400 || response.status === 204 || input.method === 'HEAD') return
  // The HTML sign-in form answers its own errors with the form (contract section 4).
  const html = (response.headers.get('Content-Type') ?? '').startsWith('text/html')
  if (html && input.path === '/auth/login' && input.method === 'POST') return
  let parsed: unknown
  expect(() => {
    parsed = JSON.parse(text)
  }, context).not.toThrow()
  expect(typeof (parsed as { detail?: unknown })?.detail, context).toBe('string')
}

/** A logged-in client, logged in again whenever a generated request ended its session. */
function loggedInSession() {
  let client: Client | null = null
  let user: { username: string; password: string } | null = null
  return async (): Promise<Map<string, string>> => {
    user ??= await createUser()
    if (client && (await client.get('/auth/me')).status === 200) return client.cookies
    client = new Client()
    // A separate address, so the generated login failures never throttle this login.
    const response = await client.post('/auth/login', {
      json: { username: user.username, password: user.password },
      headers: { 'CF-Connecting-IP': '192.0.2.250' },
    })
    expect(response.status).toBe(200)
    return client.cookies
  }
}

describe('fuzzing every route', () => {
  it('never answers 500 or a stack trace to an anonymous client, and every 4xx is {"detail"}', async () => {
    // An anonymous visitor with a CSRF cookie but no session.
    const visitor = new Client()
    await visitor.get('/auth/csrf')
    const anonymous = visitor.cookies
    await fc.assert(
      fc.asyncProperty(request, async (input) => {
        const response = await workerFetch(toRequest(input, anonymous))
        await checkResponse(input, response)
      }),
      { numRuns: 200 },
    )
  }, 60_000)

  it('never answers 500 or a stack trace to a logged-in client, and every 4xx is {"detail"}', async () => {
    const session = loggedInSession()
    await fc.assert(
      fc.asyncProperty(request, async (input) => {
        const response = await workerFetch(toRequest(input, await session()))
        await checkResponse(input, response)
      }),
      { numRuns: 200 },
    )
  }, 60_000)

  it('answers a password change with any new password 200, or 400 with the messages', async () => {
    const user = await createUser()
    const client = new Client()
    // Its own address, so the other properties' failed logins never throttle this one.
    const headers = { 'CF-Connecting-IP': '192.0.2.251' }
    const login = await client.post('/auth/login', {
      json: { username: user.username, password: user.password },
      headers,
    })
    expect(login.status).toBe(200)
    let current = user.password
    const newPassword = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.string({ unit: 'grapheme', minLength: 8, maxLength: 24 }),
      fc.constantFrom('password1', '12345678', user.username, 'pass\u0000word-long-enough'),
    )
    await fc.assert(
      fc.asyncProperty(newPassword, async (candidate) => {
        const response = await client.post('/auth/password', {
          json: { old_password: current, new_password: candidate },
          headers,
        })
        const result = (await response.json()) as {
          detail: string
          errors?: Record<string, string[]>
        }
        expect([200, 400]).toContain(response.status)
        if (response.status === 200) {
          expect(validatePassword(candidate, { username: user.username })).toEqual([])
          current = candidate
        } else if (candidate !== '') {
          const messages = result.errors?.new_password ?? []
          expect(messages.length).toBeGreaterThan(0)
          expect(messages).toEqual(validatePassword(candidate, { username: user.username }))
          expect(result.detail).toBe(messages.join(' '))
        }
        expect((await client.get('/auth/me')).status).toBe(200)
      }),
      { numRuns: 40 },
    )
  }, 60_000)
})

describe('fuzzing the validators', () => {
  it('validatePassword never throws and only gives known messages', () => {
    const known = [
      /^The password is too similar to the (username|first name|last name|email address)\.$/,
      /^This password is too short\. It must contain at least 8 characters\.$/,
      /^This password is too common\.$/,
      /^This password is entirely numeric\.$/,
      /^This password is too long\. It must contain at most 4096 characters\.$/,
    ]
    const user = fc.record({
      username: fc.string({ unit: 'binary', maxLength: 30 }),
      first_name: fc.string({ maxLength: 20 }),
      last_name: fc.string({ maxLength: 20 }),
      email: fc.string({ maxLength: 30 }),
    })
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 64 }),
        fc.option(user),
        (password, owner) => {
          const messages = validatePassword(password, owner)
          for (const message of messages)
            expect(known.some((pattern) => pattern.test(message))).toBe(true)
          expect(new Set(messages).size).toBe(messages.length)
        },
      ),
      { numRuns: 1000 },
    )
  })

  it("SequenceMatcher's ratios are ordered as difflib promises: ratio <= quick <= real quick", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.string({ maxLength: 40 }), (a, b) => {
        const matcher = new SequenceMatcher(a, b)
        const ratio = matcher.ratio()
        expect(ratio).toBeGreaterThanOrEqual(0)
        expect(ratio).toBeLessThanOrEqual(matcher.quickRatio())
        expect(matcher.quickRatio()).toBeLessThanOrEqual(matcher.realQuickRatio())
        expect(matcher.realQuickRatio()).toBeLessThanOrEqual(1)
        expect(new SequenceMatcher(a, a).ratio()).toBe(1)
      }),
      { numRuns: 500 },
    )
  })
})
