/**
 * Helpers of the e-mail tests: an app whose EMAIL_BACKEND=http posts to the test relay
 * (test/mail/relay.ts), and the relay's inbox.
 */
import { env } from 'cloudflare:workers'
import { inject } from 'vitest'
import type { Env } from '../../src/env'
import { appFetch, uniqueName } from '../helpers'
import type { RelayedMessage } from './relay'

export const RELAY_TOKEN = 'relay-token-for-tests'

/** Settings of an app that sends through the relay, with `overrides` on top. */
export function mailSettings(overrides: Partial<Env> = {}): Partial<Env> {
  return {
    EMAIL_BACKEND: 'http',
    EMAIL_HTTP_URL: `${inject('mailRelayUrl')}/messages`,
    EMAIL_HTTP_TOKEN: RELAY_TOKEN,
    ...overrides,
  }
}

/** An app that sends through the relay. */
export function mailApp(overrides: Partial<Env> = {}, now?: () => number) {
  return appFetch(mailSettings(overrides), now)
}

/** The messages the relay received for `to`, oldest first. */
export async function inbox(to: string): Promise<RelayedMessage[]> {
  const response = await fetch(`${inject('mailRelayUrl')}/messages?to=${encodeURIComponent(to)}`)
  return (await response.json()) as RelayedMessage[]
}

/** The first link to `path` in a message's text. */
export function linkIn(message: RelayedMessage | undefined, path: string): URL {
  const match = message?.text.match(new RegExp(`https?://\\S+${path.replaceAll('/', '\\/')}\\S*`))
  if (!match) throw new Error(`no ${path} link in ${message?.text}`)
  return new URL(match[0])
}

/** An address no other test uses. */
export function uniqueEmail(prefix = 'mail'): string {
  return `${uniqueName(prefix)}@example.com`.toLowerCase()
}

/** This run's D1, for checking what the flows stored. */
export const db = env.DB
