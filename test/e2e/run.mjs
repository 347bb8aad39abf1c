/**
 * `npm run test:e2e`: the end-to-end tests against the real stack. Each prints one PASS or FAIL
 * line; the exit status is non-zero when any failed. `node test/e2e/run.mjs browser nginx` runs
 * only those. E2E_VERBOSE=1 streams every child's output.
 *
 * Needs (Debian): chromium, nginx, caddy, python3-django, python3-djangorestframework,
 * python3-jwt.
 */
import { bodiesTest } from './bodies.mjs'
import { browserTest } from './browser.mjs'
import { caddyTest } from './caddy.mjs'
import { configTest } from './config.mjs'
import { djangoTest, djangoUnitTests } from './django.mjs'
import { runTest } from './lib.mjs'
import { mailTest } from './mail.mjs'
import { nginxTest } from './nginx.mjs'
import { passkeysTest } from './passkeys.mjs'
import { ssoTest } from './sso.mjs'
import { tokensTest } from './tokens.mjs'
import { websocketTest } from './websocket.mjs'

const TESTS = {
  browser: browserTest,
  bodies: bodiesTest,
  config: configTest,
  nginx: nginxTest,
  caddy: caddyTest,
  'django-unit': djangoUnitTests,
  django: djangoTest,
  websocket: websocketTest,
  passkeys: passkeysTest,
  tokens: tokensTest,
  mail: mailTest,
  sso: ssoTest,
}

const wanted = process.argv.slice(2)
for (const name of wanted) {
  if (!(name in TESTS)) {
    console.error(`unknown e2e test "${name}"; known: ${Object.keys(TESTS).join(', ')}`)
    process.exit(2)
  }
}

const results = []
for (const [name, test] of Object.entries(TESTS)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue
  results.push([name, await runTest(name, test)])
}
const failed = results.filter(([, passed]) => !passed).map(([name]) => name)
console.log(
  failed.length === 0
    ? `e2e: all ${results.length} passed`
    : `e2e: ${failed.length} of ${results.length} failed: ${failed.join(', ')}`,
)
process.exit(failed.length === 0 ? 0 : 1)
