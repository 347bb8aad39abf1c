import { describe, expect, it } from 'vitest'
import { Client } from '../helpers'
import { mailApp } from './helpers'

const ENDPOINTS = [
  '/auth/password/reset',
  '/auth/password/reset/confirm',
  '/auth/email/verify',
  '/auth/email/verify/resend',
  '/auth/register',
]

const BODIES: unknown[] = [
  [],
  null,
  'text',
  42,
  {},
  { email: {}, uid: [], token: {}, new_password: 5, key: 7, username: [], password: {} },
  { email: 'a@b.co', uid: 'MQ', token: 'zzzzzzzzzzzzzzzzzzzzzz-0', new_password: 'x'.repeat(5000) },
  { email: `${'a'.repeat(300)}@example.com`, key: ':'.repeat(100), username: 'ü'.repeat(151) },
  { email: 'a@b.co', uid: 'A'.repeat(1000), token: '-', key: 'MQ:-', password: '' },
]

describe('the e-mail endpoints on bad input', () => {
  it('answer every odd JSON body below 500, with a detail when refused', async () => {
    const client = new Client(mailApp({ SIGNUP: 'open', LOGIN_FAILURE_IP_LIMIT: '1000' }))
    for (const path of ENDPOINTS) {
      for (const json of BODIES) {
        const response = await client.post(path, { json })
        const what = `${path} ${JSON.stringify(json).slice(0, 80)}`
        // Some of these are well-formed enough to be taken (a valid address): never a 500.
        expect(response.status, what).toBeLessThan(500)
        if (response.status >= 400) {
          expect(((await response.json()) as { detail: unknown }).detail).toBeTypeOf('string')
        }
      }
    }
  })

  it('answer the pages’ forms with a page (4xx), never a 500', async () => {
    const client = new Client(mailApp({ LOGIN_FAILURE_IP_LIMIT: '1000' }))
    for (const path of ENDPOINTS.slice(0, 3)) {
      const response = await client.post(path, {
        form: {
          next: '/auth/login',
          email: 'nope',
          uid: '!!',
          token: '',
          key: '',
          new_password: '',
        },
      })
      expect(response.status, path).toBe(400)
      expect(response.headers.get('Content-Type')).toContain('text/html')
    }
  })
})
