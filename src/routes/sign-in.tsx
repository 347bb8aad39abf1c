/**
 * The HTML flow of `/auth/login`, `/auth/login/mfa` and `/auth/logout`: the sign-in page and its
 * second step, and form posts that carry a `next` field, answered with a redirect (or the form
 * again) instead of JSON. A JSON login, or a form without `next`, stays the JSON API of
 * routes/auth.ts and routes/mfa.ts.
 */
import type { Context } from 'hono'
import { NO_PENDING_STEP, pendingStep } from '../auth/second-factor'
import type { Config } from '../config'
import type { AppEnv } from '../context'
import { ApiError } from '../errors'
import type { SecondFactorMethod } from '../mfa/repository'
import { signInRequest } from './auth'
import { isFormRequest, readBody } from './body'
import {
  PAGE_HEADERS,
  SecondStepPage,
  SIGN_IN_PAGE_HEADERS,
  SignedInPage,
  SignInPage,
} from './login-page'
import { isSafeRedirect, safeRedirect } from './redirect'

export { SIGN_IN_SCRIPT } from './sign-in-script'

type Ctx = Context<AppEnv>

const MISSING_FIELDS = 'Enter your username and password.'
const MISSING_CODE = 'Enter the code.'

/**
 * The `next` field of a form post, or null when the request is not a form or has no `next`
 * (then the JSON API answers). Reads the body only for forms, so other bodies keep their errors.
 */
export async function formNext(c: Ctx): Promise<string | null> {
  if (!isFormRequest(c.req.raw)) return null
  const body = (await readBody(c)) as Record<string, unknown>
  return typeof body.next === 'string' ? body.next : null
}

/** The second step's page, with `methods` offered. */
export function secondStepPage(
  c: Ctx,
  next: string,
  methods: readonly SecondFactorMethod[],
  status: 200 | 400 = 200,
  error?: string,
): Response | Promise<Response> {
  const page = (
    <SecondStepPage
      csrfToken={c.var.csrf.getToken()}
      next={next}
      safeNext={safeRedirect(next)}
      methods={methods}
      error={error}
    />
  )
  return c.html(page, status, SIGN_IN_PAGE_HEADERS)
}

/**
 * `GET /auth/login`: the form; its second step while a sign-in waits for one; for a signed-in
 * visitor, who they are and a sign-out button.
 */
export function signInPage(c: Ctx, config: Config): Response | Promise<Response> {
  const next = c.req.query('next') ?? ''
  const csrfToken = c.var.csrf.getToken()
  const user = c.var.user
  if (user) {
    const page = (
      <SignedInPage user={user} csrfToken={csrfToken} next={isSafeRedirect(next) ? next : null} />
    )
    return c.html(page, 200, PAGE_HEADERS)
  }
  const step = pendingStep(c.var.session, c.var.accounts.now())
  if (step) return secondStepPage(c, next, step.methods)
  const page = (
    <SignInPage
      csrfToken={csrfToken}
      next={next}
      safeNext={safeRedirect(next)}
      providers={config.ssoProviders}
    />
  )
  return c.html(page, 200, SIGN_IN_PAGE_HEADERS)
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
  const again = (status: 400 | 429, error: string, headers: Record<string, string> = {}) =>
    signInAgain(c, config, next, status, error, headers, username)
  if (username === '' || password === '') return again(400, MISSING_FIELDS)
  try {
    const signedIn = await signInRequest(c, config, { kind: 'password', username, password })
    if ('mfa_required' in signedIn) return secondStepPage(c, next, signedIn.methods)
  } catch (error) {
    if (error instanceof ApiError && (error.status === 400 || error.status === 429)) {
      return again(error.status, error.message, error.headers)
    }
    throw error
  }
  return c.redirect(safeRedirect(next), 302)
}

/** The sign-in form again, with an error (and the username typed, if any). */
export function signInAgain(
  c: Ctx,
  config: Config,
  next: string,
  status: 400 | 403 | 429 | 502,
  error: string,
  headers: Record<string, string> = {},
  username?: string,
): Response | Promise<Response> {
  const page = (
    <SignInPage
      csrfToken={c.var.csrf.getToken()}
      next={next}
      safeNext={safeRedirect(next)}
      username={username}
      error={error}
      providers={config.ssoProviders}
    />
  )
  return c.html(page, status, { ...SIGN_IN_PAGE_HEADERS, ...headers })
}

/**
 * `POST /auth/login/mfa` as a form with `next`: 302 to the safe `next` once the code completes the
 * sign-in; the second step again with the error (400); the sign-in form with the error when no
 * sign-in waits any more (400), or when too many wrong codes dropped it (429).
 */
export async function formSecondStep(c: Ctx, config: Config, next: string): Promise<Response> {
  const body = (await readBody(c)) as Record<string, unknown>
  const code = typeof body.code === 'string' ? body.code : ''
  const step = pendingStep(c.var.session, c.var.accounts.now())
  if (!step) return signInAgain(c, config, next, 400, NO_PENDING_STEP)
  if (code.trim() === '') return secondStepPage(c, next, step.methods, 400, MISSING_CODE)
  try {
    await signInRequest(c, config, { kind: 'code', code })
  } catch (error) {
    if (error instanceof ApiError && error.status === 400 && error.message !== NO_PENDING_STEP) {
      return secondStepPage(c, next, step.methods, 400, error.message)
    }
    if (error instanceof ApiError && (error.status === 400 || error.status === 429)) {
      return signInAgain(c, config, next, error.status, error.message, error.headers)
    }
    throw error
  }
  return c.redirect(safeRedirect(next), 302)
}
