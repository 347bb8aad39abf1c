import { describe, expect, it } from 'vitest'
import { isSafeRedirect, safeRedirect } from './redirect'

describe('isSafeRedirect', () => {
  it.each([
    '/',
    '/dashboard',
    '/reports/2024?sort=desc&q=a%20b#top',
    '/a b',
    '/%2F%2Fevil.example',
    '/path:with:colons',
    '/?next=//evil.example',
  ])('accepts the same-origin path %j', (target) => {
    expect(isSafeRedirect(target)).toBe(true)
  })

  it.each([
    ['a protocol-relative URL', '//evil.example/x'],
    ['a slash-backslash URL', '/\\evil.example'],
    ['a double backslash', '\\\\evil.example'],
    ['a backslash later on', '/a\\..\\..\\evil'],
    ['an absolute http URL', 'https://evil.example/'],
    ['a javascript: URL', 'javascript:alert(1)'],
    ['a data: URL', 'data:text/html,x'],
    ['a relative path', 'dashboard'],
    ['a tab that browsers drop', '/\t/evil.example'],
    ['a CR/LF (header splitting)', '/x\r\nSet-Cookie: a=b'],
    ['a NUL', '/x\u0000'],
    ['a leading space', ' /x'],
    ['a C1 control', '/x\u0085'],
    ['the empty string', ''],
    ['a very long value', `/${'a'.repeat(5000)}`],
  ])('refuses %s', (_, target) => {
    expect(isSafeRedirect(target)).toBe(false)
  })

  it('refuses values that are not strings', () => {
    expect(isSafeRedirect(undefined)).toBe(false)
    expect(isSafeRedirect(['/x'])).toBe(false)
  })
})

describe('safeRedirect', () => {
  it('falls back to / for an unsafe target', () => {
    expect(safeRedirect('//evil.example')).toBe('/')
    expect(safeRedirect('/ok')).toBe('/ok')
  })
})
