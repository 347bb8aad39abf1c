/**
 * The Worker: builds the app from `Env` once per isolate and serves it. A bad setting is answered
 * with a 500 naming the setting, on every request, until it is fixed.
 */
import argon2 from '@phi-ag/argon2/argon2.wasm'
import type { Hono } from 'hono'
import { createHashers } from './accounts/hashers'
import { createApp } from './app'
import { loadConfig } from './config'
import type { AppEnv } from './context'
import type { Env } from './env'
import { toErrorResponse } from './errors'

const hashers = createHashers(argon2)

/** One app per `env` object: workerd hands the same bindings to every request of an isolate. */
const apps = new WeakMap<Env, Hono<AppEnv> | Response>()

function appFor(env: Env): Hono<AppEnv> | Response {
  let app = apps.get(env)
  if (!app) {
    try {
      app = createApp(loadConfig(env), { hashers })
    } catch (error) {
      app = toErrorResponse(error)
    }
    apps.set(env, app)
  }
  return app
}

export default {
  fetch(request, env, ctx) {
    const app = appFor(env)
    return app instanceof Response ? app.clone() : app.fetch(request, env, ctx)
  },
} satisfies ExportedHandler<Env>
