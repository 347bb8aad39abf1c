/**
 * The HTML flow of `/auth/login` and `/auth/logout`: the sign-in page, and form posts that carry
 * a `next` field, answered with a redirect (or the form again) instead of JSON. A JSON login, or
 * a form without `next`, stays the JSON API of routes/auth.ts.
 */
import type { Context } from 'hono'
import type { Config } from '../config'
import type { AppEnv } from '../context'
import { ApiError } from '../errors'
import { signInRequest } from './auth'
import { isFormRequest, readBody } from './body'
import { PAGE_HEADERS, SignedInPage, SignInPage } from './login-page'
import { isSafeRedirect, safeRedirect } from './redirect'

type Ctx = Context<AppEnv>

const MISSING_FIELDS = 'Enter your username and password.'

/**
 * The `next` field of a form post, or null when the request is not a form or has no `next`
 * (then the JSON API answers). Reads the body only for forms, so other bodies keep their errors.
 */
export async function formNext(c: Ctx): Promise<string | null> {
  if (!isFormRequest(c.req.raw)) return null
  const body = (await readBody(c)) as Record<string, unknown>
  return typeof body.next === 'string' ? body.next : null
}

/** `GET /auth/login`: the form, or for a signed-in visitor who they are and a sign-out button. */
export function signInPage(c: Ctx): Response | Promise<Response> {
  const next = c.req.query('next') ?? ''
  const csrfToken = c.var.csrf.getToken()
  const user = c.var.user
  if (user) {
    const page = (
      <SignedInPage user={user} csrfToken={csrfToken} next={isSafeRedirect(next) ? next : null} />
    )
    return c.html(page, 200, PAGE_HEADERS)
  }
  return c.html(<SignInPage csrfToken={csrfToken} next={next} />, 200, PAGE_HEADERS)
}

/**
 * `POST /auth/login` as a form with `next`: 302 to `next` when it is a same-origin path (else
 * `/`) after a successful login; the form again, with the error and the same `next`, on 400
 * (bad credentials, missing fields) or 429 (throttled).
 */
export async function formLogin(c: Ctx, config: Config, next: string): Promise<Response> {
  const body = (await readBody(c)) as Record<string, unknown>
  const username = typeof body.username === 'string' ? body.username : ''
  const password = typeof body.password === 'string' ? body.password : ''
  const again = (status: 400 | 429, error: string, headers: Record<string, string> = {}) => {
    const page = (
      <SignInPage csrfToken={c.var.csrf.getToken()} next={next} username={username} error={error} />
    )
    return c.html(page, status, { ...PAGE_HEADERS, ...headers })
  }
  if (username === '' || password === '') return again(400, MISSING_FIELDS)
  try {
    await signInRequest(c, config, { kind: 'password', username, password })
  } catch (error) {
    if (error instanceof ApiError && (error.status === 400 || error.status === 429)) {
      return again(error.status, error.message, error.headers)
    }
    throw error
  }
  return c.redirect(safeRedirect(next), 302)
}
