/**
 * The Django example (examples/django): its own test suite, then the real thing: a Django REST
 * Framework API as the gateway's origin, trusting only the verified assertion and creating the
 * user from `sub` on first sight. Needs Debian's python3-django, python3-djangorestframework and
 * python3-jwt, used by /usr/bin/python3 (PYTHON overrides).
 */
import { join } from 'node:path'
import { check, createUser, freePort, root, startStack, waitForHttp } from './lib.mjs'

const PYTHON = process.env.PYTHON || '/usr/bin/python3'
const DJANGO_DIR = join(root, 'examples', 'django')

function pythonEnv(extra) {
  return { PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1', ...extra }
}

/** `manage.py test`: the authentication class against a local JWKS. */
export async function djangoUnitTests(resources) {
  const dir = await resources.tempDir('django-unit')
  const { code, output } = await resources.run(
    'manage.py test',
    PYTHON,
    ['manage.py', 'test', '--noinput', '-v', '2'],
    { cwd: DJANGO_DIR, env: pythonEnv({ DJANGO_DB_PATH: join(dir, 'db.sqlite3') }) },
  )
  check(code === 0, `manage.py test passes:\n${output.slice(-6000)}`)
  const ran = /Ran (\d+) tests?/.exec(output)
  console.log(`  django: ${ran ? ran[1] : '?'} tests ran`)
}

/** The gateway in front of Django's runserver. */
export async function djangoTest(resources) {
  const state = await resources.tempDir('django-state')
  const dir = await resources.tempDir('django')
  const password = 'django-e2e-passphrase-99'
  await createUser(resources, state, 'dora', password, ['--email', 'dora@example.com'])

  const djangoPort = await freePort()
  const djangoUrl = `http://127.0.0.1:${djangoPort}`
  const stack = await startStack(resources, state, { ORIGIN_URL: djangoUrl })
  const env = pythonEnv({
    DJANGO_DB_PATH: join(dir, 'db.sqlite3'),
    SESSIONGATE_JWKS_URL: `${stack.base}/.well-known/jwks.json`,
    SESSIONGATE_AUDIENCE: djangoUrl,
  })
  const migrate = await resources.run(
    'manage.py migrate',
    PYTHON,
    ['manage.py', 'migrate', '--noinput'],
    {
      cwd: DJANGO_DIR,
      env,
    },
  )
  check(migrate.code === 0, `migrate:\n${migrate.output}`)
  resources.spawn(
    'runserver',
    PYTHON,
    ['manage.py', 'runserver', `127.0.0.1:${djangoPort}`, '--noreload'],
    {
      cwd: DJANGO_DIR,
      env,
    },
  )
  // Without an assertion Django answers 401: that is how we know it is up.
  await waitForHttp(`${djangoUrl}/api/whoami/`, 60_000, 401)

  const direct = await fetch(`${djangoUrl}/api/whoami/`, {
    headers: { 'X-Auth-User-Id': '1', 'X-Auth-Username': 'dora' },
  })
  check(direct.status === 401, `Django ignores bare identity headers: ${direct.status}`)

  const login = await fetch(`${stack.base}/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'dora', password }),
  })
  check(login.status === 200, `login is 200, got ${login.status}`)
  const user = (await login.json()).user
  const session = login.headers
    .getSetCookie()
    .find((cookie) => cookie.startsWith('sessionid='))
    ?.split(';')[0]

  for (let round = 0; round < 2; round++) {
    const response = await fetch(`${stack.base}/api/whoami/`, { headers: { Cookie: session } })
    const text = await response.text()
    check(
      response.status === 200,
      `whoami through the gateway is 200, got ${response.status}: ${text}`,
    )
    const body = JSON.parse(text)
    check(body.username === 'dora' && body.email === 'dora@example.com', `Django user: ${text}`)
    check(body.sub === String(user.id), `sub is the gateway's user id: ${text}`)
  }
}
