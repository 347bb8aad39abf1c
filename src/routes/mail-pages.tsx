/**
 * The HTML pages of password reset and e-mail verification, in the sign-in page's frame and under
 * its headers (PAGE_HEADERS: no script at all). Each form posts to the JSON endpoint with a
 * hidden `next`, which makes the endpoint answer with the next page instead of JSON, as the
 * sign-in form does.
 */
import { Layout } from './login-page'

const ERROR_ID = 'form-error'

function ErrorAlert(props: { error?: string }) {
  if (props.error === undefined) return null
  return (
    <p id={ERROR_ID} class="error" role="alert">
      {props.error}
    </p>
  )
}

function Hidden(props: { csrfToken: string; next: string }) {
  return (
    <>
      <input type="hidden" name="csrfmiddlewaretoken" value={props.csrfToken} />
      <input type="hidden" name="next" value={props.next} />
    </>
  )
}

/** `GET /auth/password/reset`: the address to send a link to. */
export function PasswordResetPage(props: { csrfToken: string; email?: string; error?: string }) {
  const invalid = props.error !== undefined
  return (
    <Layout title="Reset your password">
      <h1>Reset your password</h1>
      <p>
        Enter the e-mail address of your account, and we will send you a link to choose a new
        password.
      </p>
      <ErrorAlert error={props.error} />
      <form method="post" action="/auth/password/reset">
        <Hidden csrfToken={props.csrfToken} next="/auth/login" />
        <label for="email">E-mail address</label>
        <input
          id="email"
          name="email"
          type="email"
          value={props.email ?? ''}
          autocomplete="email"
          maxlength={254}
          required
          autofocus
          aria-invalid={invalid ? 'true' : undefined}
          aria-describedby={invalid ? ERROR_ID : undefined}
        />
        <button type="submit">Send the link</button>
      </form>
      <p class="muted links">
        <a href="/auth/login">Back to sign in</a>
      </p>
    </Layout>
  )
}

/** A page that only says something, with a link onwards. */
export function MessagePage(props: {
  title: string
  message: string
  link: { href: string; text: string }
  alert?: boolean
}) {
  return (
    <Layout title={props.title}>
      <h1>{props.title}</h1>
      <p class={props.alert ? 'error' : undefined} role={props.alert ? 'alert' : undefined}>
        {props.message}
      </p>
      <p>
        <a href={props.link.href}>{props.link.text}</a>
      </p>
    </Layout>
  )
}

/** `GET /auth/password/reset/confirm` with a valid link: the new password, twice. */
export function NewPasswordPage(props: {
  csrfToken: string
  uid: string
  token: string
  username: string
  error?: string
}) {
  const invalid = props.error !== undefined
  const described = invalid ? ERROR_ID : undefined
  return (
    <Layout title="Choose a new password">
      <h1>Choose a new password</h1>
      <ErrorAlert error={props.error} />
      <form method="post" action="/auth/password/reset/confirm">
        <Hidden csrfToken={props.csrfToken} next="/auth/login" />
        <input type="hidden" name="uid" value={props.uid} />
        <input type="hidden" name="token" value={props.token} />
        {/* For password managers: which account the new password belongs to. */}
        <input type="hidden" name="username" value={props.username} autocomplete="username" />
        <label for="new_password">New password</label>
        <input
          id="new_password"
          name="new_password"
          type="password"
          autocomplete="new-password"
          required
          autofocus
          aria-invalid={invalid ? 'true' : undefined}
          aria-describedby={described}
        />
        <label for="new_password2">New password again</label>
        <input
          id="new_password2"
          name="new_password2"
          type="password"
          autocomplete="new-password"
          required
          aria-invalid={invalid ? 'true' : undefined}
          aria-describedby={described}
        />
        <button type="submit">Set the password</button>
      </form>
    </Layout>
  )
}

/**
 * `GET /auth/email/verify?key=`: a button that posts the key. The GET itself verifies nothing:
 * mail scanners follow links, a person presses the button.
 */
export function VerifyEmailPage(props: {
  csrfToken: string
  verificationKey: string
  error?: string
}) {
  return (
    <Layout title="Confirm your e-mail address">
      <h1>Confirm your e-mail address</h1>
      <ErrorAlert error={props.error} />
      <form method="post" action="/auth/email/verify">
        <Hidden csrfToken={props.csrfToken} next="/auth/login" />
        <input type="hidden" name="key" value={props.verificationKey} />
        <button type="submit">Confirm</button>
      </form>
    </Layout>
  )
}
