/**
 * A real Caddy on 127.0.0.1 in front of a tiny app, asking the real gateway (`npm run dev`,
 * forward-auth only) through `forward_auth` to /auth/verify, with the config of
 * examples/caddy/Caddyfile as it is documented; the scenario is in forward-auth.mjs.
 * Needs Debian's `caddy` (skipped with a note when it is not installed and CI is not set).
 */
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  checkForwardAuth,
  createForwardAuthUsers,
  forwardAuthSettings,
  PROXY_SECRET,
  startOrigin,
} from './forward-auth.mjs'
import { check, freePort, root, startStack, waitForHttp } from './lib.mjs'

const CADDY = process.env.CADDY_PATH || '/usr/bin/caddy'

/** @param {import('./lib.mjs').Resources} resources */
export async function caddyTest(resources) {
  if (!existsSync(CADDY) && !process.env.CI) {
    console.log(`  caddy: ${CADDY} not installed, skipped (apt-get install caddy)`)
    return
  }
  const state = await resources.tempDir('caddy-state')
  const dir = await resources.tempDir('caddy')
  await createForwardAuthUsers(resources, state)

  const [caddyPort, originPort] = [await freePort(), await freePort()]
  const site = `http://127.0.0.1:${caddyPort}`
  const stack = await startStack(resources, state, forwardAuthSettings(site))
  const origin = await startOrigin(originPort, `${stack.base}/.well-known/jwks.json`, site)
  try {
    const template = await readFile(join(root, 'examples', 'caddy', 'Caddyfile'), 'utf8')
    const config = join(dir, 'Caddyfile')
    // No admin endpoint (its fixed port would clash) and nothing saved outside `dir`.
    await writeFile(
      config,
      `{\n\tadmin off\n}\n\n${template
        .replaceAll('__SITE__', site)
        .replaceAll('__GATEWAY__', `127.0.0.1:${stack.port}`)
        .replaceAll('__ORIGIN__', `127.0.0.1:${originPort}`)
        .replaceAll('__PROXY_SECRET__', PROXY_SECRET)}`,
    )
    const env = { HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir }
    const valid = await resources.run(
      'caddy validate',
      CADDY,
      ['validate', '--config', config, '--adapter', 'caddyfile'],
      { env },
    )
    check(valid.code === 0, `caddy validate accepts the config:\n${valid.output}`)
    resources.spawn('caddy', CADDY, ['run', '--config', config, '--adapter', 'caddyfile'], { env })
    await waitForHttp(`${site}/.well-known/jwks.json`, 30_000)

    await checkForwardAuth(site)
  } finally {
    const closed = new Promise((resolve) => origin.close(resolve))
    origin.closeAllConnections()
    await closed
  }
}
