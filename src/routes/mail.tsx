/**
 * The e-mail endpoints of `/auth`: password reset, e-mail verification and sign-up, as JSON, and
 * the HTML pages of the first two. Thin: the flows live in src/mail. A form post with a `next`
 * field comes from a page and is answered with the next page; anything else is the JSON API.
 */
import { type Context, Hono } from 'hono'
import { actorOf } from '../auth'
import type { Config } from '../config'
import type { AppEnv } from '../context'
import { ApiError, PermissionDenied } from '../errors'
import { createMailer } from '../mail'
import {
  confirmPasswordReset,
  EMAIL_VERIFIED,
  emailField,
  INVALID_RESET_LINK,
  INVALID_VERIFICATION_LINK,
  type MailContext,
  RESET_DONE,
  RESET_SENT,
  register,
  requestPasswordReset,
  resendVerification,
  resetLinkUser,
  SIGNUP_CLOSED,
  VERIFICATION_SENT,
  verifyEmail,
} from '../mail/service'
import { inBackground } from '../utils/background'
import { signedIn, signInContext, throttleFor } from './auth'
import { readObject, requiredString } from './body'
import { PAGE_HEADERS } from './login-page'
import { MessagePage, NewPasswordPage, PasswordResetPage, VerifyEmailPage } from './mail-pages'
import { route } from './methods'
import { formNext } from './sign-in'

type Ctx = Context<AppEnv>

/** Django's SetPasswordForm message when the two new passwords differ. */
const PASSWORDS_DIFFER = 'The two password fields didn’t match.'

/** The e-mail flows' context for this request. */
function mailContext(c: Ctx, config: Config): MailContext {
  return {
    accounts: c.var.accounts,
    mailer: createMailer(config, c.env),
    throttle: throttleFor(c, config),
    actor: actorOf(c),
    base: config.siteUrl ?? c.var.site.origin,
    passwordResetTimeout: config.passwordResetTimeout,
    emailVerification: config.emailVerification,
    defer: (work) => inBackground(c, work),
  }
}

/** An error a page shows (bad input, throttled, e-mail down); anything else is thrown on. */
function pageError(error: unknown): ApiError {
  if (error instanceof ApiError && [400, 429, 503].includes(error.status)) return error
  throw error
}

/** An HTML page under PAGE_HEADERS: the sign-in page's frame, no script. */
function page(
  c: Ctx,
  body: Parameters<Ctx['html']>[0],
  status: 200 | 400 | 429 | 503 = 200,
  headers = {},
) {
  return c.html(body, status, { ...PAGE_HEADERS, ...headers })
}

const SIGN_IN_LINK = { href: '/auth/login', text: 'Sign in' }
const RESET_LINK = { href: '/auth/password/reset', text: 'Ask for a new link' }

/** Builds the e-mail routes, mounted on `/auth`. */
export function mailRoutes(config: Config): Hono<AppEnv> {
  const app = new Hono<AppEnv>()

  route(app, '/password/reset', {
    GET: (c) => page(c, <PasswordResetPage csrfToken={c.var.csrf.getToken()} />),
    POST: async (c) => {
      const next = await formNext(c)
      const body = await readObject(c)
      if (next === null) {
        await requestPasswordReset(mailContext(c, config), emailField(body.email))
        return c.json({ detail: RESET_SENT })
      }
      try {
        await requestPasswordReset(mailContext(c, config), emailField(body.email))
      } catch (error) {
        const { status, message, headers } = pageError(error)
        const email = typeof body.email === 'string' ? body.email : ''
        const form = (
          <PasswordResetPage csrfToken={c.var.csrf.getToken()} email={email} error={message} />
        )
        return page(c, form, status as 400, headers)
      }
      const sent = (
        <MessagePage
          title="Check your inbox"
          message="If an account has this e-mail address, we sent it a link to choose a new password. It works once, for a limited time."
          link={SIGN_IN_LINK}
        />
      )
      return page(c, sent)
    },
  })

  route(app, '/password/reset/confirm', {
    GET: async (c) => {
      const uid = c.req.query('uid') ?? ''
      const token = c.req.query('token') ?? ''
      const user = await resetLinkUser(mailContext(c, config), uid, token)
      if (!user) {
        const invalid = (
          <MessagePage
            title="Password reset"
            message={INVALID_RESET_LINK}
            link={RESET_LINK}
            alert
          />
        )
        return page(c, invalid, 400)
      }
      const form = (
        <NewPasswordPage
          csrfToken={c.var.csrf.getToken()}
          uid={uid}
          token={token}
          username={user.username}
        />
      )
      return page(c, form)
    },
    POST: async (c) => {
      const next = await formNext(c)
      const body = await readObject(c)
      const context = mailContext(c, config)
      if (next === null) {
        const newPassword = requiredString(body, 'new_password')
        await confirmPasswordReset(context, body.uid, body.token, newPassword)
        return c.json({ detail: RESET_DONE })
      }
      const newPassword = typeof body.new_password === 'string' ? body.new_password : ''
      try {
        if (body.new_password2 !== undefined && body.new_password2 !== newPassword) {
          // Checked first only when the link is good: a bad link says so whatever was typed.
          if (await resetLinkUser(context, body.uid, body.token)) {
            throw new ApiError(400, 'invalid', PASSWORDS_DIFFER)
          }
        }
        await confirmPasswordReset(context, body.uid, body.token, newPassword)
      } catch (error) {
        const { status, message } = pageError(error)
        if (message === INVALID_RESET_LINK) {
          const invalid = (
            <MessagePage title="Password reset" message={message} link={RESET_LINK} alert />
          )
          return page(c, invalid, 400)
        }
        const user = await resetLinkUser(context, body.uid, body.token)
        const form = (
          <NewPasswordPage
            csrfToken={c.var.csrf.getToken()}
            uid={String(body.uid ?? '')}
            token={String(body.token ?? '')}
            username={user?.username ?? ''}
            error={message}
          />
        )
        return page(c, form, status as 400)
      }
      const done = (
        <MessagePage
          title="Password reset complete"
          message="Your password has been set. You may go ahead and sign in now."
          link={SIGN_IN_LINK}
        />
      )
      return page(c, done)
    },
  })

  route(app, '/email/verify', {
    GET: (c) => {
      const form = (
        <VerifyEmailPage
          csrfToken={c.var.csrf.getToken()}
          verificationKey={c.req.query('key') ?? ''}
        />
      )
      return page(c, form)
    },
    POST: async (c) => {
      const next = await formNext(c)
      const body = await readObject(c)
      const context = { accounts: c.var.accounts, actor: actorOf(c) }
      if (next === null) {
        await verifyEmail(context, requiredString(body, 'key'))
        return c.json({ detail: EMAIL_VERIFIED })
      }
      try {
        await verifyEmail(context, body.key)
      } catch (error) {
        const { message } = pageError(error)
        const invalid = (
          <MessagePage
            title="Confirm your e-mail address"
            message={message === INVALID_VERIFICATION_LINK ? message : INVALID_VERIFICATION_LINK}
            link={SIGN_IN_LINK}
            alert
          />
        )
        return page(c, invalid, 400)
      }
      const done = (
        <MessagePage
          title="E-mail address confirmed"
          message="Thank you: your e-mail address is confirmed."
          link={SIGN_IN_LINK}
        />
      )
      return page(c, done)
    },
  })

  route(app, '/email/verify/resend', {
    POST: async (c) => {
      const body = await readObject(c)
      await resendVerification(mailContext(c, config), emailField(body.email))
      return c.json({ detail: VERIFICATION_SENT })
    },
  })

  route(app, '/register', {
    POST: async (c) => {
      if (!config.signupOpen) throw new PermissionDenied(SIGNUP_CLOSED)
      const body = await readObject(c)
      const username = requiredString(body, 'username')
      const blank = body.email === undefined || body.email === null || body.email === ''
      // allauth asks for the address when it has to be verified; otherwise it may stay blank.
      const email = blank && config.emailVerification === 'none' ? '' : emailField(body.email)
      const password = requiredString(body, 'password')
      const context = mailContext(c, config)
      const result = await register(
        {
          ...context,
          signupOpen: config.signupOpen,
          signIn: signInContext(c, config),
        },
        { username, email, password },
      )
      if (result.status === 'signed-in') return c.json({ user: signedIn(c, result.user) }, 201)
      return c.json({ detail: VERIFICATION_SENT }, 201)
    },
  })

  return app
}
