/** The daily clean-up (the Worker's `scheduled` handler) and the operator's throttle unlock. */
import { createScheduledController } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config'
import worker from '../../src/index'
import { pruneExpired } from '../../src/scheduled'
import { LoginThrottle } from '../../src/throttle'
import { Client, createUser } from '../helpers'

const DAY = 86_400_000

describe('the daily clean-up', () => {
  it('deletes events older than AUDIT_RETENTION_DAYS, dead session rows, expired tokens and passed throttle windows', async () => {
    const now = Date.now()
    const user = await createUser()
    const insertEvent = (at: number, type: string) =>
      env.DB.prepare(
        "INSERT INTO auth_events (at, type, user_id, username) VALUES (?1, ?2, ?3, 'pruned')",
      )
        .bind(new Date(at).toISOString(), type, user.id)
        .run()
    await insertEvent(now - 91 * DAY, 'old')
    await insertEvent(now - 89 * DAY, 'recent')
    const insertRow = (id: string, expiresAt: number) =>
      env.DB.prepare(
        `INSERT INTO user_sessions (id, user_id, kv_key, created_at, last_seen, expires_at)
         VALUES (?1, ?2, ?3, 0, 0, ?4)`,
      )
        .bind(id, user.id, `session:${id}`, expiresAt)
        .run()
    // A row may lag its record by an age plus 5 minutes: only older ones are dead.
    await insertRow('deadrow', now - 1_209_600_000 - 10 * 60_000)
    await insertRow('lagging', now - 60_000)
    const throttle = new LoginThrottle(env.DB, { now: () => now - 3_600_000 })
    await (await throttle.attempt('203.0.113.77', 'pruned')).recordFailure()
    const insertToken = (id: string, expiresAt: number | null) =>
      env.DB.prepare(
        `INSERT INTO api_tokens (id, user_id, name, kv_key, created_at, expires_at)
         VALUES (?1, ?2, 'pruned', ?3, 0, ?4)`,
      )
        .bind(id, user.id, `token:${id}`, expiresAt)
        .run()
    await insertToken('expiredtoken', now - 60_000)
    await insertToken('livetoken', now + 60_000)
    await insertToken('forevertoken', null)

    const pruned = await pruneExpired(env.DB, loadConfig(env), now)
    expect(pruned.events).toBeGreaterThanOrEqual(1)
    const types = await env.DB.prepare(
      "SELECT type FROM auth_events WHERE username = 'pruned'",
    ).all<{ type: string }>()
    expect(types.results.map((row) => row.type)).toEqual(['recent'])
    const ids = await env.DB.prepare('SELECT id FROM user_sessions WHERE user_id = ?1')
      .bind(user.id)
      .all<{ id: string }>()
    expect(ids.results.map((row) => row.id)).toEqual(['lagging'])
    expect(pruned.tokens).toBe(1)
    const tokens = await env.DB.prepare('SELECT id FROM api_tokens WHERE user_id = ?1 ORDER BY id')
      .bind(user.id)
      .all<{ id: string }>()
    expect(tokens.results.map((row) => row.id)).toEqual(['forevertoken', 'livetoken'])
    const left = await env.DB.prepare('SELECT count(*) AS n FROM login_failures').first<number>('n')
    expect(left).toBe(0)
  })

  it('runs from the Worker’s scheduled handler', async () => {
    const controller = createScheduledController({ scheduledTime: Date.now(), cron: '17 3 * * *' })
    await expect(worker.scheduled(controller, env)).resolves.toBeUndefined()
  })
})

describe('unlock', () => {
  it('clears a username’s failed logins from every network, so the right password works (200)', async () => {
    const user = await createUser()
    for (const ip of ['203.0.113.80', '203.0.113.81']) {
      for (let i = 0; i < 5; i++) {
        await new Client().post('/auth/login', {
          json: { username: user.username, password: 'wrong' },
          headers: { 'CF-Connecting-IP': ip },
        })
      }
    }
    const locked = await new Client().post('/auth/login', {
      json: { username: user.username, password: user.password },
      headers: { 'CF-Connecting-IP': '203.0.113.80' },
    })
    expect(locked.status).toBe(429)
    expect(await new LoginThrottle(env.DB).unlock(user.username)).toBe(2)
    const unlocked = await new Client().post('/auth/login', {
      json: { username: user.username, password: user.password },
      headers: { 'CF-Connecting-IP': '203.0.113.80' },
    })
    expect(unlocked.status).toBe(200)
  })
})
