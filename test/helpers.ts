/**
 * Test helpers: the schema, users, and a small cookie-keeping client that drives the real Worker
 * (or an app built with other settings) over real local KV and D1.
 */

import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import argon2 from '@phi-ag/argon2/argon2.wasm'
import { type Accounts, createAccounts } from '../src/accounts'
import { createHashers } from '../src/accounts/hashers'
import { type NewUser, UserRepository } from '../src/accounts/users'
import { createApp } from '../src/app'
import { loadConfig } from '../src/config'
import type { Env } from '../src/env'
import worker from '../src/index'
import { recordSigner, SessionStore } from '../src/session'
import type { SessionRecord } from '../src/session/record'

/** One hasher set for all tests (the WASM instance is created once). */
export const hashers = createHashers(argon2)

/**
 * Runs a SQL file's statements (`TEST_SCHEMA`: schema.sql, split in vitest.config.ts) in one batch,
 * as `wrangler d1 execute --file` runs them. The tests' own DB is migrated instead (test/setup.ts).
 */
export async function applySchema(db: D1Database, statements: readonly string[]): Promise<void> {
  await db.batch(statements.map((statement) => db.prepare(statement)))
}

/** The session store the Worker uses, sealing with this run's SECRET_KEY. */
export function testStore(now?: () => number): SessionStore {
  return new SessionStore(env.SESSIONS, recordSigner([env.SECRET_KEY as string]), now)
}

/** The accounts service over this run's bindings, as the Worker builds it per request. */
export function testAccounts(now: () => number = Date.now): Accounts {
  return createAccounts({
    db: env.DB,
    kv: env.SESSIONS,
    records: recordSigner([env.SECRET_KEY as string]),
    hashers,
    secrets: [env.SECRET_KEY as string],
    now,
  })
}

/** The live record stored under a KV key (its seal checked), or null. */
export function storedRecord(kvKey: string): Promise<SessionRecord | null> {
  return testStore().load(kvKey)
}

let counter = 0
/** A username no other test in this file uses. */
export function uniqueName(prefix = 'user'): string {
  counter += 1
  return `${prefix}${counter}_${Math.random().toString(36).slice(2, 8)}`
}

/** Creates a user with a real argon2id hash of `password`. */
export async function createUser(
  fields: Partial<NewUser> & { password?: string } = {},
): Promise<{ id: number; username: string; password: string }> {
  const username = fields.username ?? uniqueName()
  const password = fields.password ?? 'correct horse battery staple'
  const row = await new UserRepository(env.DB).create({
    ...fields,
    username,
    password: await hashers.makePassword(password),
  })
  return { id: row.id, username, password }
}

type Fetcher = (request: Request) => Promise<Response>

/** The deployed Worker's fetch, with this test run's bindings. */
export const workerFetch: Fetcher = async (request) => {
  const ctx = createExecutionContext()
  const response = await worker.fetch(
    request as Request<unknown, IncomingRequestCfProperties>,
    env,
    ctx,
  )
  await waitOnExecutionContext(ctx)
  return response
}

/**
 * A fetcher for an app built with other settings (`overrides` beside this run's bindings) and,
 * optionally, another clock.
 */
export function appFetch(overrides: Partial<Env> = {}, now?: () => number): Fetcher {
  const bindings = { ...env, ...overrides } as Env
  const app = createApp(loadConfig(bindings), { hashers, now })
  return async (request) => {
    const ctx = createExecutionContext()
    const response = await app.fetch(request, bindings, ctx)
    await waitOnExecutionContext(ctx)
    return response
  }
}

export interface RequestOptions {
  json?: unknown
  form?: Record<string, string>
  body?: BodyInit
  headers?: Record<string, string>
  /** Send the csrftoken cookie's value as X-CSRFToken (default true for unsafe methods). */
  csrf?: boolean
}

/** A browser-like client: keeps cookies, sends the CSRF header, speaks JSON. */
export class Client {
  readonly cookies = new Map<string, string>()

  constructor(
    private readonly fetcher: Fetcher = workerFetch,
    readonly base = 'http://localhost',
  ) {}

  async request(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const headers = new Headers(options.headers)
    let body = options.body
    if (options.json !== undefined) {
      headers.set('Content-Type', 'application/json')
      body = JSON.stringify(options.json)
    } else if (options.form) {
      headers.set('Content-Type', 'application/x-www-form-urlencoded')
      body = new URLSearchParams(options.form).toString()
    }
    const unsafe = !['GET', 'HEAD', 'OPTIONS'].includes(method)
    const token = this.cookies.get('csrftoken')
    if (unsafe && options.csrf !== false && token && !headers.has('X-CSRFToken')) {
      headers.set('X-CSRFToken', token)
    }
    if (this.cookies.size > 0 && !headers.has('Cookie')) {
      headers.set('Cookie', [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; '))
    }
    const response = await this.fetcher(new Request(this.base + path, { method, headers, body }))
    for (const cookie of response.headers.getSetCookie()) this.#store(cookie)
    return response
  }

  get(path: string, options?: RequestOptions) {
    return this.request('GET', path, options)
  }

  post(path: string, options?: RequestOptions) {
    return this.request('POST', path, options)
  }

  /** Logs in through the API; fails the test unless it answers 200. */
  async login(username: string, password: string): Promise<Response> {
    const response = await this.post('/auth/login', { json: { username, password } })
    if (response.status !== 200) {
      throw new Error(`login failed: ${response.status} ${await response.text()}`)
    }
    return response
  }

  #store(header: string): void {
    const [pair] = header.split(';')
    const index = pair?.indexOf('=') ?? -1
    if (!pair || index < 0) return
    const name = pair.slice(0, index).trim()
    const value = pair.slice(index + 1).trim()
    if (/max-age=0/i.test(header) || value === '' || value === '""') this.cookies.delete(name)
    else this.cookies.set(name, value)
  }
}

/** The `Set-Cookie` header for one cookie name, or undefined. */
export function setCookie(response: Response, name: string): string | undefined {
  return response.headers.getSetCookie().find((cookie) => cookie.startsWith(`${name}=`))
}
