/**
 * `/auth/tokens`: the signed-in user's API tokens (DRF's `TokenAuthentication`, several named
 * tokens per user). Thin: the accounts service makes and revokes them.
 */
import { Hono } from 'hono'
import { tokenInfo } from '../accounts'
import { actorOf } from '../auth'
import type { AppEnv } from '../context'
import { NotFound } from '../errors'
import { requireUser } from './auth'
import { fieldError, readObject, requiredString } from './body'
import { route } from './methods'

/** Longest token name: enough to say what a token is for, bounded so rows stay small. */
const MAX_NAME_LENGTH = 100
/** Longest lifetime `expires_in` may ask for: ten years, in seconds. */
const MAX_EXPIRES_IN = 10 * 365 * 86_400

/** `expires_in`: absent or null for a token that never expires, else whole seconds. */
function expiresIn(value: unknown): number | null {
  if (value === undefined || value === null) return null
  if (!Number.isSafeInteger(value) || (value as number) < 1 || (value as number) > MAX_EXPIRES_IN) {
    fieldError('expires_in', `Ensure this value is a whole number from 1 to ${MAX_EXPIRES_IN}.`)
  }
  return value as number
}

/** Builds the token routes, mounted on `/auth`. */
export function tokenRoutes(): Hono<AppEnv> {
  const app = new Hono<AppEnv>()

  route(app, '/tokens', {
    GET: async (c) => {
      const user = requireUser(c)
      const { tokens, now } = c.var.accounts
      const rows = await tokens.listForUser(user.id, now())
      return c.json({ tokens: rows.map(tokenInfo) })
    },
    POST: async (c) => {
      const user = requireUser(c)
      const body = await readObject(c)
      const name = requiredString(body, 'name').trim()
      if (name === '') fieldError('name', 'This field may not be blank.')
      if (name.length > MAX_NAME_LENGTH) {
        fieldError('name', `Ensure this field has no more than ${MAX_NAME_LENGTH} characters.`)
      }
      const { token, key } = await c.var.accounts.createToken(
        user,
        { name, expiresIn: expiresIn(body.expires_in) },
        actorOf(c),
      )
      // The key is shown this once: only its SHA-256 is kept.
      return c.json({ token: tokenInfo(token), key }, 201)
    },
  })

  route(app, '/tokens/:id', {
    DELETE: async (c) => {
      const user = requireUser(c)
      const accounts = c.var.accounts
      const token = await accounts.tokens.getForUser(c.req.param('id') ?? '', user.id)
      if (!token) throw new NotFound()
      await accounts.revokeToken(user, token, actorOf(c))
      return c.body(null, 204)
    },
  })

  return app
}
