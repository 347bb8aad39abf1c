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
import { pruneExpired } from './scheduled'

const hashers = createHashers(argon2)

/** The app, or the configuration error that keeps it from being built. */
type Built = { app: Hono<AppEnv> } | { error: unknown }

/** One app per `env` object: workerd hands the same bindings to every request of an isolate. */
const apps = new WeakMap<Env, Built>()

function appFor(env: Env): Built {
  let built = apps.get(env)
  if (!built) {
    try {
      built = { app: createApp(loadConfig(env), { hashers }) }
    } catch (error) {
      built = { error }
    }
    apps.set(env, built)
  }
  return built
}

export default {
  fetch(request, env, ctx) {
    const built = appFor(env)
    // A fresh response each time: a body can be read only once.
    return 'app' in built ? built.app.fetch(request, env, ctx) : toErrorResponse(built.error)
  },

  /** The daily Cron Trigger: deletes expired events, session rows and throttle buckets. */
  async scheduled(controller, env) {
    await pruneExpired(env.DB, loadConfig(env), controller.scheduledTime)
  },
} satisfies ExportedHandler<Env>
