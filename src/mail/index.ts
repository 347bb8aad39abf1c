/**
 * E-mail: one `send(message)` over the backend EMAIL_BACKEND names, and the messages
 * sessiongate sends (templates.ts). A failed send is logged and becomes a 503, never a 500: the
 * caller answers it the same way whether or not an account was involved.
 */
import type { Config } from '../config'
import type { Env } from '../env'
import { ApiError } from '../errors'

export {
  type LinkedMessage,
  passwordResetMessage,
  unknownAccountMessage,
  verificationMessage,
} from './templates'

/** One e-mail, as the http backend posts it. */
export interface Message {
  from: string
  to: string
  subject: string
  text: string
  html: string
}

/** 503: outside DEBUG with no EMAIL_BACKEND, nothing can be sent. */
export class EmailNotConfigured extends ApiError {
  constructor() {
    super(503, 'email_not_configured', 'E-mail delivery is not configured.')
  }
}

/** 503: the backend refused or could not be reached (the reason is logged, not shown). */
export class EmailFailed extends ApiError {
  constructor() {
    super(503, 'email_failed', 'The e-mail could not be sent. Try again later.')
  }
}

/** Sends e-mail. */
export interface Mailer {
  /** Sends one message; throws `EmailNotConfigured` or `EmailFailed` (503). */
  send(message: Omit<Message, 'from'>): Promise<void>
  /** Throws `EmailNotConfigured` when there is no backend: checked before any other work. */
  assertConfigured(): void
}

/** How long a relay may take before the send counts as failed: a request must not hang on it. */
const HTTP_TIMEOUT_MS = 10_000

/** The mailer for these settings and bindings. `fetcher` defaults to the global fetch. */
export function createMailer(config: Config, env: Env, fetcher: typeof fetch = fetch): Mailer {
  const from = config.emailFrom
  const deliver = backendFor(config, env, fetcher)
  return {
    assertConfigured() {
      if (!deliver) throw new EmailNotConfigured()
    },
    async send(message) {
      if (!deliver) throw new EmailNotConfigured()
      try {
        await deliver({ from, ...message })
      } catch (error) {
        // The address is not logged: it may be a stranger's, typed into the reset form.
        console.error('Sending an e-mail failed', {
          backend: config.emailBackend,
          subject: message.subject,
          error: error instanceof Error ? error.message : String(error),
        })
        throw new EmailFailed()
      }
    },
  }
}

type Deliver = (message: Message) => Promise<void>

function backendFor(config: Config, env: Env, fetcher: typeof fetch): Deliver | null {
  switch (config.emailBackend) {
    case null:
      return null
    case 'console':
      // Django's console backend: the whole message in the log (`wrangler dev`, `wrangler tail`).
      return async (message) => {
        console.log(
          `Content-Type: text/plain; charset="utf-8"\nSubject: ${message.subject}\n` +
            `From: ${message.from}\nTo: ${message.to}\n\n${message.text}`,
        )
      }
    case 'http': {
      const url = config.emailHttpUrl as URL
      const token = config.emailHttpToken
      return async (message) => {
        const headers: Record<string, string> = { 'Content-Type': 'application/json' }
        if (token) headers.Authorization = `Bearer ${token}`
        const response = await fetcher(url, {
          method: 'POST',
          headers,
          body: JSON.stringify(message),
          signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
        })
        // Drained either way, so the connection can be reused.
        await response.body?.cancel()
        if (!response.ok) throw new Error(`the relay answered ${response.status}`)
      }
    }
    case 'cloudflare': {
      const binding = env.EMAIL as SendEmail
      return async (message) => {
        await binding.send({
          from: message.from,
          to: message.to,
          subject: message.subject,
          text: message.text,
          html: message.html,
        })
      }
    }
  }
}
