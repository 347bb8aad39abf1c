/**
 * The second-factor endpoints of `/auth`: a user's factors (`/mfa`, `/passkeys`) and the second
 * step of a sign-in (`/login/mfa`, `/passkeys/login`). Thin: the rules live in src/mfa (factors)
 * and src/auth (the sign-in pipeline).
 */
import { encodeBase64urlNoPadding } from '@oslojs/encoding'
import { type Context, Hono } from 'hono'
import type { UserRow } from '../accounts'
import { actorOf } from '../auth'
import { pendingStep } from '../auth/second-factor'
import type { Config } from '../config'
import type { AppEnv } from '../context'
import { NOT_AUTHENTICATED, ValidationError } from '../errors'
import {
  authenticationOptions,
  type RelyingParty,
  registrationOptions,
  verifyRegistration,
} from '../mfa/passkeys'
import { confirmPassword } from '../mfa/reauthenticate'
import {
  addPasskey,
  confirmTotp,
  disableTotp,
  mfaOf,
  mfaStatus,
  PASSKEY_REGISTRATION_FAILED,
  passkeyName,
  regenerateRecoveryCodes,
  removePasskey,
  startTotp,
} from '../mfa/service'
import { parseUrl } from '../utils/url'
import { signInRequest, throttleFor } from './auth'
import { readObject, requiredString } from './body'
import { route } from './methods'
import { formNext, formSecondStep, SIGN_IN_SCRIPT } from './sign-in'

type Ctx = Context<AppEnv>

/**
 * The relying party of this request: WEBAUTHN_RP_ID or the request's host name, and as origins
 * the request's own and WEBAUTHN_ORIGINS.
 */
export function relyingParty(c: Ctx, config: Config): RelyingParty {
  const origin = c.var.site.origin
  const id = config.webauthnRpId ?? parseUrl(origin)?.hostname ?? ''
  return { id, name: id, origins: [origin, ...config.webauthnOrigins] }
}

/** The signed-in user as stored now, or a 401 (also when the user is gone since). */
async function currentUser(c: Ctx): Promise<UserRow> {
  const user = c.var.user
  if (!user) throw NOT_AUTHENTICATED
  const row = await c.var.accounts.users.getById(user.id)
  if (row?.is_active !== 1) throw NOT_AUTHENTICATED
  return row
}

/** Asks for the current password in `body.password` (see `confirmPassword`). */
function reauthenticate(c: Ctx, config: Config, user: UserRow, body: Record<string, unknown>) {
  return () =>
    confirmPassword(
      { accounts: c.var.accounts, throttle: throttleFor(c, config), actor: actorOf(c) },
      user,
      body.password,
    )
}

/** A WebAuthn user handle: 32 random bytes (256 bits), base64url; never the user id. */
function newUserHandle(): string {
  return encodeBase64urlNoPadding(crypto.getRandomValues(new Uint8Array(32)))
}

/** Builds the second-factor routes, mounted on `/auth`. */
export function mfaRoutes(config: Config): Hono<AppEnv> {
  const app = new Hono<AppEnv>()

  route(app, '/mfa', {
    GET: async (c) => {
      const user = c.var.user
      if (!user) throw NOT_AUTHENTICATED
      return c.json(await mfaStatus(c.var.accounts, user.id))
    },
  })

  route(app, '/mfa/totp', {
    POST: async (c) => {
      const user = await currentUser(c)
      const body = await readObject(c)
      const issuer = relyingParty(c, config).id
      return c.json(
        await startTotp(c.var.accounts, user, issuer, reauthenticate(c, config, user, body)),
      )
    },
    DELETE: async (c) => {
      const user = await currentUser(c)
      const body = await readObject(c)
      await disableTotp(
        c.var.accounts,
        user,
        actorOf(c),
        c.var.session.id,
        reauthenticate(c, config, user, body),
      )
      return c.body(null, 204)
    },
  })

  route(app, '/mfa/totp/confirm', {
    POST: async (c) => {
      const user = await currentUser(c)
      const code = requiredString(await readObject(c), 'code')
      const codes = await confirmTotp(c.var.accounts, user, code, actorOf(c))
      return c.json({ recovery_codes: codes })
    },
  })

  route(app, '/mfa/recovery-codes', {
    POST: async (c) => {
      const user = await currentUser(c)
      const body = await readObject(c)
      const codes = await regenerateRecoveryCodes(
        c.var.accounts,
        user,
        actorOf(c),
        reauthenticate(c, config, user, body),
      )
      return c.json({ recovery_codes: codes })
    },
  })

  route(app, '/passkeys/register/options', {
    POST: async (c) => {
      const user = await currentUser(c)
      const body = await readObject(c)
      await reauthenticate(c, config, user, body)()
      const mfa = mfaOf(c.var.accounts)
      const handle = await mfa.userHandle(user.id, newUserHandle)
      const name = [user.first_name, user.last_name].filter(Boolean).join(' ')
      const options = await registrationOptions(
        c.var.session,
        relyingParty(c, config),
        { id: user.id, username: user.username, displayName: name || user.username, handle },
        await mfa.passkeys(user.id),
        c.var.accounts.now(),
      )
      return c.json(options)
    },
  })

  route(app, '/passkeys/register', {
    POST: async (c) => {
      const user = await currentUser(c)
      const body = await readObject(c)
      const made = await verifyRegistration(
        c.var.session,
        relyingParty(c, config),
        user.id,
        body.credential,
        c.var.accounts.now(),
      )
      if (!made) throw new ValidationError(PASSKEY_REGISTRATION_FAILED)
      const passkey = await addPasskey(
        c.var.accounts,
        user,
        passkeyName(body.name),
        made,
        actorOf(c),
      )
      return c.json({ passkey }, 201)
    },
  })

  route(app, '/passkeys/login/options', {
    POST: async (c) => {
      const accounts = c.var.accounts
      const step = pendingStep(c.var.session, accounts.now())
      // During a pending step, only that user's passkeys; else any passkey of this site.
      const allow = step ? await mfaOf(accounts).passkeys(step.user) : []
      const options = await authenticationOptions(
        c.var.session,
        relyingParty(c, config),
        allow,
        accounts.now(),
      )
      return c.json(options)
    },
  })

  route(app, '/passkeys/login', {
    POST: async (c) => {
      const body = await readObject(c)
      const rp = relyingParty(c, config)
      return c.json(
        await signInRequest(c, config, { kind: 'passkey', credential: body.credential, rp }),
      )
    },
  })

  route(app, '/passkeys/:id', {
    DELETE: async (c) => {
      const user = await currentUser(c)
      const body = await readObject(c)
      await removePasskey(
        c.var.accounts,
        user,
        c.req.param('id') ?? '',
        actorOf(c),
        c.var.session.id,
        reauthenticate(c, config, user, body),
      )
      return c.body(null, 204)
    },
  })

  route(app, '/login/mfa', {
    POST: async (c) => {
      // A form with `next` is the HTML sign-in page's: it answers with a redirect or a page.
      const next = await formNext(c)
      if (next !== null) return formSecondStep(c, config, next)
      const code = requiredString(await readObject(c), 'code')
      return c.json(await signInRequest(c, config, { kind: 'code', code }))
    },
  })

  // The sign-in page's one script, served from here: the pages' CSP allows no inline script.
  route(app, '/sign-in.js', {
    GET: (c) =>
      c.body(SIGN_IN_SCRIPT, 200, {
        'Content-Type': 'text/javascript; charset=utf-8',
        'X-Content-Type-Options': 'nosniff',
      }),
  })

  return app
}
