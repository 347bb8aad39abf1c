/**
 * `npm run bench:peers` without running it: the peer is pinned exactly and its lock file installs
 * that version (the bench installs it with `npm ci`, offline from the project's own install),
 * the cookie jar follows `Set-Cookie` as a browser does, and the targets compare the right runs.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { judgePeers, withPeerRatios } from '../../scripts/bench/peers/scenarios'
import { mergeCookies } from '../../scripts/bench/peers/sessions'
import type { ScenarioResult } from '../../scripts/bench/scenarios'

const PEERS = join(import.meta.dirname, '../../scripts/bench/peers')

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(PEERS, file), 'utf8')) as Record<string, unknown>
}

/** A measured scenario with the requests/s, p50 and KV reads per request given. */
function result(id: string, rps: number, p50Ms = 5, kvReads = 1): ScenarioResult {
  const timing = { seconds: 2, requests: rps * 2, rps, p50Ms, p99Ms: p50Ms * 4, cpuMs: 100 }
  return {
    id,
    title: id,
    target: 'worker',
    connections: 10,
    ...timing,
    ratio: 0,
    cpuUsPerRequest: 500,
    passes: [timing],
    statuses: { 200: rps * 2 },
    unexpected: 0,
    errors: 0,
    timeouts: 0,
    storageRule: 'report',
    storage: null,
    perRequest: { kvReads, kvWrites: 0, d1Queries: 0, d1Calls: 0, kvWaitMs: 1, d1WaitMs: 0 },
  }
}

const ONE_ISOLATE = { sessiongate: { envObjects: 1, configLoads: 1 } }

describe('bench:peers', () => {
  it('pins better-auth 1.7 exactly, and its lock file installs that version', () => {
    const manifest = readJson('package.json') as { dependencies: Record<string, string> }
    const lock = readJson('package-lock.json') as {
      packages: Record<string, { version?: string }>
    }
    expect(manifest.dependencies['better-auth']).toMatch(/^1\.7\.\d+$/)
    for (const [name, version] of Object.entries(manifest.dependencies)) {
      expect(version, name).toMatch(/^\d+\.\d+\.\d+$/)
      expect(lock.packages[`node_modules/${name}`]?.version, name).toBe(version)
    }
  })

  it('updates, adds and drops cookies as Set-Cookie says', () => {
    const cookie = mergeCookies('sessionid=abc; csrftoken=t1; old=x', [
      'csrftoken=t2; Path=/; SameSite=Lax',
      'better-auth.session_data=eyJ9; Max-Age=300; Path=/; HttpOnly',
      'old=; Max-Age=0; Path=/',
    ])
    expect(cookie).toBe('sessionid=abc; csrftoken=t2; better-auth.session_data=eyJ9')
  })

  it("rates every run against better-auth's uncached /me and judges the targets on them", () => {
    const results = withPeerRatios([
      result('sessiongate-me', 450),
      result('better-auth-me', 300, 5, 2),
      result('better-auth-session', 250, 5, 2),
      result('sessiongate-me-cached', 400),
      result('better-auth-me-cached', 500, 5, 0),
      result('sessiongate-login', 10, 40),
      result('better-auth-login', 5, 80),
    ])
    expect(results.map((r) => r.ratio)).toEqual([1.5, 1, 0.833, 1.333, 1.667, 0.033, 0.017])
    const targets = Object.fromEntries(
      judgePeers(results, ONE_ISOLATE, true).map((target) => [target.id, target]),
    )
    expect(targets['me-vs-better-auth']?.met).toBe(true)
    expect(targets['me-vs-better-auth']?.measured).toContain('1.50x (450 vs 300 req/s; by CPU')
    expect(targets['me-vs-better-auth']?.measured).toContain('get-session endpoint: 1.80x')
    expect(targets['cached-vs-better-auth-cached']?.met).toBe(false)
    expect(targets['login-p50']?.measured).toContain('better-auth 2.00x')
    expect(targets['app-per-isolate-sessiongate']?.met).toBe(true)
  })

  it('says so when the build does not know SESSION_CACHE_SECONDS', () => {
    const results = withPeerRatios([result('sessiongate-me', 1), result('better-auth-me', 1)])
    const cached = judgePeers(results, ONE_ISOLATE, false).find(
      (target) => target.id === 'cached-vs-better-auth-cached',
    )
    expect(cached?.description).toContain('the setting is ignored')
  })
})
