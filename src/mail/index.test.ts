import { env } from 'cloudflare:workers'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { loadConfig } from '../config'
import type { Env } from '../env'
import { createMailer, EmailFailed, EmailNotConfigured, passwordResetMessage } from '.'

const MESSAGE = {
  to: 'ada@example.com',
  subject: 'Hello',
  text: 'Hello, Ada.\n',
  html: '<p>Hello, Ada.</p>',
}

function mailer(settings: Partial<Env>) {
  const bindings = { ...env, ...settings } as Env
  return createMailer(loadConfig(bindings), bindings)
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('send()', () => {
  it('answers 503 "E-mail delivery is not configured." without a backend outside DEBUG', async () => {
    const none = mailer({})
    expect(() => none.assertConfigured()).toThrow(EmailNotConfigured)
    const error = await none.send(MESSAGE).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(EmailNotConfigured)
    expect((error as EmailNotConfigured).status).toBe(503)
    expect((error as Error).message).toBe('E-mail delivery is not configured.')
  })

  it("sends through Cloudflare's send_email binding (miniflare's local one)", async () => {
    await expect(mailer({ EMAIL_BACKEND: 'cloudflare' }).send(MESSAGE)).resolves.toBeUndefined()
  })

  it('turns a send the binding refuses into a logged 503', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {})
    // A binding that refuses, as Email Service does a sender it does not know (not a storage mock).
    const binding = {
      send: () => Promise.reject(new Error('email from other@example.com not allowed')),
    } as unknown as SendEmail
    const refused = mailer({ EMAIL_BACKEND: 'cloudflare', EMAIL: binding })
    await expect(refused.send(MESSAGE)).rejects.toBeInstanceOf(EmailFailed)
    expect(logged).toHaveBeenCalledWith('Sending an e-mail failed', expect.anything())
    // The log names neither the address nor the body.
    expect(JSON.stringify(logged.mock.calls)).not.toContain('ada@example.com')
  })

  it('logs the whole message with the console backend, the default in DEBUG', async () => {
    const logged = vi.spyOn(console, 'log').mockImplementation(() => {})
    await mailer({ DEBUG: 'true' }).send(MESSAGE)
    const line = String(logged.mock.calls[0]?.[0])
    expect(line).toContain('Subject: Hello')
    expect(line).toContain('From: webmaster@localhost')
    expect(line).toContain('To: ada@example.com')
    expect(line).toContain('Hello, Ada.')
  })
})

describe('templates', () => {
  it('escapes every value put into the HTML', () => {
    const message = passwordResetMessage(
      { username: '<b>ada</b>', email: 'ada@example.com' },
      'https://accounts.example.com',
      'https://accounts.example.com/auth/password/reset/confirm?uid=MQ&token=abc-def',
    )
    expect(message.html).toContain('&lt;b&gt;ada&lt;/b&gt;')
    expect(message.html).not.toContain('<b>ada</b>')
    expect(message.html).toContain(
      '<a href="https://accounts.example.com/auth/password/reset/confirm?uid=MQ&amp;token=abc-def">',
    )
    expect(message.text).toContain('<b>ada</b>')
    expect(message.subject).toBe('Password reset on accounts.example.com')
  })
})
