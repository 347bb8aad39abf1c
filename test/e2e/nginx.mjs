/**
 * A real nginx on 127.0.0.1 in front of a tiny origin, asking the real gateway (`npm run dev`,
 * forward-auth only: no ORIGIN_URL) through `auth_request` to /auth/verify, with the config of
 * examples/nginx/sessiongate.conf as it is documented; the scenario is in forward-auth.mjs.
 */
import { chmod, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  checkForwardAuth,
  createForwardAuthUsers,
  forwardAuthSettings,
  PROXY_SECRET,
  startOrigin,
} from './forward-auth.mjs'
import { check, freePort, root, startStack, waitForHttp } from './lib.mjs'

const NGINX = process.env.NGINX_PATH || '/usr/sbin/nginx'

/** nginx's main config around the documented server block, everything under `dir`. */
async function writeNginxConf(dir, listen, gateway, origin) {
  const site = (await readFile(join(root, 'examples', 'nginx', 'sessiongate.conf'), 'utf8'))
    .replaceAll('__LISTEN__', listen)
    .replaceAll('__GATEWAY__', gateway)
    .replaceAll('__ORIGIN__', origin)
    .replaceAll('__PROXY_SECRET__', PROXY_SECRET)
  const conf = `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 64; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${site}
}
`
  const path = join(dir, 'nginx.conf')
  await writeFile(path, conf)
  return path
}

/** @param {import('./lib.mjs').Resources} resources */
export async function nginxTest(resources) {
  const state = await resources.tempDir('nginx-state')
  const dir = await resources.tempDir('nginx')
  // nginx's workers may run as another user: they must reach the temp paths.
  await chmod(dir, 0o755)
  await createForwardAuthUsers(resources, state)

  const [nginxPort, originPort] = [await freePort(), await freePort()]
  const site = `http://127.0.0.1:${nginxPort}`
  const stack = await startStack(resources, state, forwardAuthSettings(site))
  const origin = await startOrigin(originPort, `${stack.base}/.well-known/jwks.json`, site)
  try {
    const conf = await writeNginxConf(
      dir,
      `127.0.0.1:${nginxPort}`,
      `127.0.0.1:${stack.port}`,
      `127.0.0.1:${originPort}`,
    )
    const syntax = await resources.run('nginx -t', NGINX, [
      '-t',
      '-p',
      dir,
      '-e',
      `${dir}/error.log`,
      '-c',
      conf,
    ])
    check(syntax.code === 0, `nginx -t accepts the config:\n${syntax.output}`)
    resources.spawn('nginx', NGINX, ['-p', dir, '-e', `${dir}/error.log`, '-c', conf])
    await waitForHttp(`${site}/.well-known/jwks.json`, 30_000)

    await checkForwardAuth(site)
  } finally {
    const closed = new Promise((resolve) => origin.close(resolve))
    origin.closeAllConnections()
    await closed
  }
}
