/**
 * The Django side of `npm run bench:django`: the project beside this file (benchsite/) with its
 * SQLite database in the run's temporary directory, one user logged in through Django's own
 * login, served by gunicorn's sync workers.
 */
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../../lib/ports.mjs'
import { runCommand } from '../../lib/process'
import { benchUsername } from '../seed'
import { Server, waitForStatus } from './processes'

/** The Django project: manage.py, benchsite/, probe.py. */
export const DJANGO_DIR = fileURLToPath(new URL('.', import.meta.url))

/** The Debian packages that provide everything the Django side runs. */
export const APT_PACKAGES = 'python3-django python3-djangorestframework gunicorn wrk'

/** Versions found for PYTHON; null for a module it cannot import. */
export interface PythonVersions {
  python: string
  django: string | null
  djangorestframework: string | null
  gunicorn: string | null
}

/** The versions of Python, Django, DRF and gunicorn, or null when PYTHON does not run. */
export async function pythonVersions(python: string): Promise<PythonVersions | null> {
  try {
    const { code, stdout } = await runCommand(python, [join(DJANGO_DIR, 'probe.py')], {
      env: pythonEnv({}),
      timeoutMs: 30_000,
    })
    return code === 0 ? (JSON.parse(stdout) as PythonVersions) : null
  } catch {
    return null
  }
}

/** A migrated database with one logged-in user. */
export interface DjangoSite {
  /** The environment every Django process of this run gets (settings read it). */
  env: Record<string, string>
  /** The `sessionid` cookie's value: a row in django_session. */
  sessionKey: string
  user: { id: number; username: string; email: string; is_staff: boolean }
}

/** The bench user, the same on every side: `bench00001`, as scripts/bench/seed.ts makes it. */
export const BENCH_USER = {
  username: benchUsername(1),
  email: `${benchUsername(1)}@bench.example`,
}

function pythonEnv(extra: Record<string, string>): Record<string, string> {
  // No __pycache__ left in the project; unbuffered, so an error report has the last lines.
  return { PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1', ...extra }
}

/**
 * Migrates a fresh SQLite database in `dir`, creates the bench user with `password` and logs it
 * in (manage.py bench_session), with a random SECRET_KEY.
 */
export async function prepareSite(python: string, dir: string, password: string) {
  const env = pythonEnv({
    DJANGO_SETTINGS_MODULE: 'benchsite.settings',
    BENCH_DJANGO_DB: join(dir, 'django.sqlite3'),
    // 48 random bytes as hex: 384 bits, and 96 characters pass Django's deploy check.
    BENCH_DJANGO_SECRET_KEY: randomBytes(48).toString('hex'),
  })
  const manage = (args: string[], input?: string) =>
    runCommand(python, ['manage.py', ...args], {
      cwd: DJANGO_DIR,
      env,
      timeoutMs: 60_000,
      ...(input === undefined ? {} : { input }),
    })
  const migrate = await manage(['migrate', '--noinput', '-v', '0'])
  if (migrate.code !== 0) throw new Error(`manage.py migrate failed:\n${migrate.stderr}`)
  const login = await manage(
    ['bench_session', BENCH_USER.username, BENCH_USER.email],
    `${password}\n`,
  )
  if (login.code !== 0) throw new Error(`manage.py bench_session failed:\n${login.stderr}`)
  const { sessionid, user } = JSON.parse(login.stdout) as {
    sessionid: string
    user: DjangoSite['user']
  }
  return { env, sessionKey: sessionid, user } satisfies DjangoSite
}

/** gunicorn serving the site, answering on `url`. */
export interface Gunicorn {
  url: URL
  server: Server
}

/**
 * Starts gunicorn with `workers` sync workers on a free loopback port and waits until Django
 * answers (403 to a request without a session: DRF's answer for SessionAuthentication).
 */
export async function startGunicorn(
  python: string,
  site: DjangoSite,
  workers: number,
  log: string,
): Promise<Gunicorn> {
  const port = await freePort()
  const server = new Server(
    `gunicorn (${workers} workers)`,
    python,
    [
      // gunicorn as a module of PYTHON: the interpreter that has Django (Debian's
      // /usr/bin/gunicorn is the same package, for /usr/bin/python3).
      '-m',
      'gunicorn',
      '--workers',
      String(workers),
      '--worker-class',
      'sync',
      '--bind',
      `127.0.0.1:${port}`,
      // No access log (gunicorn writes none unless --access-logfile is given), and only its
      // own warnings and errors.
      '--log-level',
      'warning',
      'benchsite.wsgi:application',
    ],
    { cwd: DJANGO_DIR, env: site.env, log },
  )
  const url = new URL(`http://127.0.0.1:${port}/api/me`)
  try {
    await waitForStatus(url, 403, 30_000, server)
  } catch (error) {
    await server.stop()
    throw error
  }
  return { url, server }
}
