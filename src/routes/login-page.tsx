/**
 * The HTML sign-in page (`GET /auth/login`) and its second step, rendered on the server with
 * Hono's JSX. JSX escapes every value it prints, so `next`, the username and error texts can
 * never inject markup. The only script is the passkey button's, served by the Worker
 * (`/auth/sign-in.js`): the pages allow no inline script, and work without it.
 */
import { raw } from 'hono/html'
import type { SecondFactorMethod } from '../mfa/repository'
import type { UserSnapshot } from '../session'

/** Security headers for every HTML page: no framing (clickjacking), no scripts, same-origin posts. */
export const PAGE_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; " +
    "frame-ancestors 'none'; base-uri 'none'",
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'same-origin',
  'X-Content-Type-Options': 'nosniff',
}

/**
 * The sign-in pages' headers: PAGE_HEADERS, and their own script (`/auth/sign-in.js`, from this
 * origin) may run and call this origin's passkey endpoints. Still no inline script.
 */
export const SIGN_IN_PAGE_HEADERS: Record<string, string> = {
  ...PAGE_HEADERS,
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; " +
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}

/** Where the sign-in pages' script is served. */
export const SIGN_IN_SCRIPT_PATH = '/auth/sign-in.js'

const CSS = `
:root { color-scheme: light dark; --fg: #1c2024; --muted: #5b6470; --bg: #f4f5f7; --card: #fff;
  --line: #c9ced6; --accent: #1f5fbf; --accent-fg: #fff; --error-bg: #fdecec; --error: #9b1c1c; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e8eaed; --muted: #a9b0ba; --bg: #15181c; --card: #1f2328; --line: #3d444d;
    --accent: #6ea8ff; --accent-fg: #0b1220; --error-bg: #3b1618; --error: #ffb4b4; }
}
* { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; display: grid; place-items: center; padding: 1.5rem;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: var(--bg); }
main { width: 100%; max-width: 22rem; background: var(--card); border: 1px solid var(--line);
  border-radius: 12px; padding: 2rem; box-shadow: 0 1px 3px rgb(0 0 0 / 0.08); }
h1 { font-size: 1.5rem; margin: 0 0 1.25rem; }
p { margin: 0 0 1rem; }
label { display: block; font-weight: 600; margin: 0 0 0.25rem; }
input { width: 100%; font: inherit; color: inherit; background: transparent; padding: 0.6rem 0.75rem;
  border: 1px solid var(--line); border-radius: 8px; margin: 0 0 1rem; }
input[aria-invalid="true"] { border-color: var(--error); }
button { width: 100%; font: inherit; font-weight: 600; padding: 0.65rem; border: 0; border-radius: 8px;
  background: var(--accent); color: var(--accent-fg); cursor: pointer; }
input:focus-visible, button:focus-visible, a:focus-visible { outline: 3px solid var(--accent);
  outline-offset: 2px; }
a { color: var(--accent); }
.error { background: var(--error-bg); color: var(--error); border-radius: 8px; padding: 0.6rem 0.75rem; }
.muted { color: var(--muted); font-size: 0.875rem; }
.links { margin: 1rem 0 0; text-align: center; }
.secondary { background: transparent; color: var(--accent); border: 1px solid var(--line);
  margin-top: 0.75rem; }
a.provider { display: block; text-align: center; text-decoration: none; font-weight: 600;
  padding: 0.65rem; border: 1px solid var(--line); border-radius: 8px; margin-top: 0.75rem; }
`

const ERROR_ID = 'login-error'

/** Every HTML page's frame: the same look, and the page's script only when it has one. */
export function Layout(props: { title: string; children: unknown; script?: boolean }) {
  return (
    <>
      {raw('<!doctype html>')}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <meta name="robots" content="noindex" />
          <title>{props.title}</title>
          <style>{raw(CSS)}</style>
          {props.script && <script src={SIGN_IN_SCRIPT_PATH} defer />}
        </head>
        <body>
          <main>{props.children}</main>
        </body>
      </html>
    </>
  )
}

export interface SignInProps {
  /** The masked CSRF token for the form (`c.var.csrf.getToken()`). */
  csrfToken: string
  /** Where to go after signing in; sent back as it came, checked again on POST. */
  next: string
  /** `next` if it is safe, else `/`: where the passkey script goes. */
  safeNext: string
  /** The username typed before a failed attempt. */
  username?: string
  /** Why the last attempt failed (credentials, throttling), shown as an alert. */
  error?: string
  /** The identity providers (SSO_PROVIDERS), one button each. */
  providers?: readonly { id: string; name: string }[]
}

/** A button per identity provider: a link that starts the sign-in there, with `next`. */
function ProviderButtons(props: {
  providers: readonly { id: string; name: string }[]
  next: string
}) {
  return (
    <>
      {props.providers.map((provider) => (
        <a
          class="provider"
          href={`/auth/sso/${encodeURIComponent(provider.id)}/login?next=${encodeURIComponent(props.next)}`}
        >
          Sign in with {provider.name}
        </a>
      ))}
    </>
  )
}

/**
 * The passkey button: hidden until the page's script finds WebAuthn in the browser, and its
 * alert. `next` is the safe destination the script goes to once signed in.
 */
function PasskeyButton(props: { label: string; next: string }) {
  return (
    <>
      {/* The script gives it role="alert" when it has something to say. */}
      <p id="passkey-error" class="error" hidden />
      <button id="passkey" type="button" class="secondary" data-next={props.next} hidden>
        {props.label}
      </button>
    </>
  )
}

/** The sign-in form. */
export function SignInPage(props: SignInProps) {
  const invalid = props.error !== undefined
  const describedBy = invalid ? ERROR_ID : undefined
  return (
    <Layout title="Sign in" script>
      <h1>Sign in</h1>
      {invalid && (
        <p id={ERROR_ID} class="error" role="alert">
          {props.error}
        </p>
      )}
      <form method="post" action="/auth/login">
        <input type="hidden" name="csrfmiddlewaretoken" value={props.csrfToken} />
        <input type="hidden" name="next" value={props.next} />
        <label for="username">Username</label>
        <input
          id="username"
          name="username"
          type="text"
          value={props.username ?? ''}
          autocomplete="username"
          autocapitalize="none"
          spellcheck={false}
          maxlength={150}
          required
          autofocus
          aria-invalid={invalid ? 'true' : undefined}
          aria-describedby={describedBy}
        />
        <label for="password">Password</label>
        <input
          id="password"
          name="password"
          type="password"
          autocomplete="current-password"
          required
          aria-invalid={invalid ? 'true' : undefined}
          aria-describedby={describedBy}
        />
        <button type="submit">Sign in</button>
      </form>
      <PasskeyButton label="Sign in with a passkey" next={props.safeNext} />
      <p class="muted links">
        <a href="/auth/password/reset">Forgot password?</a>
      </p>
      <ProviderButtons providers={props.providers ?? []} next={props.safeNext} />
    </Layout>
  )
}

export interface SecondStepProps {
  /** The masked CSRF token for the forms. */
  csrfToken: string
  /** Where to go after signing in, as it came. */
  next: string
  /** `next` if it is safe, else `/`: where the passkey script goes. */
  safeNext: string
  /** The second factors that can complete the sign-in. */
  methods: readonly SecondFactorMethod[]
  /** Why the last answer failed, shown as an alert. */
  error?: string
}

const CODE_ERROR_ID = 'code-error'

/**
 * The second step: a code from the authenticator app or a recovery code, a passkey button when
 * the user has passkeys, and a way to start again (sign out of the pending step).
 */
export function SecondStepPage(props: SecondStepProps) {
  const invalid = props.error !== undefined
  const codes = props.methods.includes('totp') || props.methods.includes('recovery_code')
  const label = props.methods.includes('totp')
    ? 'Code from your authenticator app, or a recovery code'
    : 'Recovery code'
  return (
    <Layout title="Two-step verification" script>
      <h1>Two-step verification</h1>
      {invalid && (
        <p id={CODE_ERROR_ID} class="error" role="alert">
          {props.error}
        </p>
      )}
      {codes && (
        <form method="post" action="/auth/login/mfa">
          <input type="hidden" name="csrfmiddlewaretoken" value={props.csrfToken} />
          <input type="hidden" name="next" value={props.next} />
          <label for="code">{label}</label>
          <input
            id="code"
            name="code"
            type="text"
            autocomplete="one-time-code"
            autocapitalize="none"
            spellcheck={false}
            maxlength={64}
            required
            autofocus
            aria-invalid={invalid ? 'true' : undefined}
            aria-describedby={invalid ? CODE_ERROR_ID : undefined}
          />
          <button type="submit">Verify</button>
        </form>
      )}
      {props.methods.includes('passkey') && (
        <PasskeyButton label="Use a passkey" next={props.safeNext} />
      )}
      <form method="post" action="/auth/logout">
        <input type="hidden" name="csrfmiddlewaretoken" value={props.csrfToken} />
        <input
          type="hidden"
          name="next"
          value={`/auth/login?next=${encodeURIComponent(props.safeNext)}`}
        />
        <button type="submit" class="secondary">
          Start again
        </button>
      </form>
    </Layout>
  )
}

export interface SignedInProps {
  user: UserSnapshot
  csrfToken: string
  /** A safe `next` to offer as "Continue", if one was given. */
  next: string | null
}

/** What a signed-in visitor to the sign-in page sees: who they are, and a sign-out form. */
export function SignedInPage(props: SignedInProps) {
  const { user } = props
  return (
    <Layout title="Signed in">
      <h1>Signed in</h1>
      <p>
        You are signed in as <strong>{user.username}</strong>
        {user.email ? <span class="muted"> ({user.email})</span> : null}.
      </p>
      {props.next !== null && (
        <p>
          <a href={props.next}>Continue</a>
        </p>
      )}
      <form method="post" action="/auth/logout">
        <input type="hidden" name="csrfmiddlewaretoken" value={props.csrfToken} />
        <input type="hidden" name="next" value="/auth/login" />
        <button type="submit">Sign out</button>
      </form>
    </Layout>
  )
}
