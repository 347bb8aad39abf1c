/**
 * Routes declared with their methods, so every other method gets DRF's 405 with an `Allow`
 * header (RFC 9110), and OPTIONS answers with the same list.
 */
import type { Handler, Hono } from 'hono'
import type { AppEnv } from '../context'
import { MethodNotAllowed } from '../errors'

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE'

/** Registers `handlers` for `path` on `app`; HEAD follows GET. */
export function route(
  app: Hono<AppEnv>,
  path: string,
  handlers: Partial<Record<Method, Handler<AppEnv>>>,
): void {
  const methods = Object.keys(handlers) as Method[]
  const allowed = [...methods, ...(methods.includes('GET') ? ['HEAD'] : []), 'OPTIONS']
  app.all(path, (c, next) => {
    const method = c.req.method === 'HEAD' ? 'GET' : (c.req.method as Method)
    const handler = handlers[method]
    if (handler) return handler(c, next)
    if (c.req.method === 'OPTIONS') {
      return c.body(null, 204, { Allow: allowed.join(', ') })
    }
    throw new MethodNotAllowed(c.req.method, allowed)
  })
}
