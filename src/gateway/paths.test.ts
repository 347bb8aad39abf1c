import { describe, expect, it } from 'vitest'
import { foldCase, hasControlCharacter, MAX_READINGS, readPath } from './paths'

/** The readings of `path` as `path` or `~path` (folded), or null when refused. */
function readings(path: string): string[] | null {
  return (
    readPath(path)?.map((reading) => (reading.folded ? `~${reading.path}` : reading.path)) ?? null
  )
}

describe('readPath: ordinary paths', () => {
  it.each([
    ['/api/items/42', ['/api/items/42', '~/api/items/42']],
    ['/files/report.pdf', ['/files/report.pdf', '~/files/report.pdf']],
    ['/', ['/', '~/']],
    ['/a%20b', ['/a%20b', '/a b', '~/a%20b', '~/a b']],
    ['/caf%C3%A9', ['/caf%C3%A9', '/café', '~/caf%c3%a9', '~/café']],
    ['/100%25', ['/100%25', '/100%', '~/100%25', '~/100%']],
    ['/a%2Fb', ['/a%2Fb', '/a/b', '~/a%2fb', '~/a/b']],
  ])('reads %s in a few ways', (path, expected) => {
    expect(readings(path)?.sort()).toEqual(expected.sort())
  })

  it('reads raw non-ASCII as its UTF-8 escapes, as a URL parser would', () => {
    expect(readings('/café')?.sort()).toEqual(readings('/caf%C3%A9')?.sort())
  })
})

describe('readPath: refused', () => {
  it.each([
    ['/a%', 'a % at the end'],
    ['/a%2', 'one hex digit'],
    ['/a%zz', 'no hex digits'],
    ['/%u0061dmin', "IIS's %u escape"],
  ])('refuses a malformed escape: %s (%s)', (path) => {
    expect(readPath(path)).toBeNull()
  })

  it.each([
    ['/%C0%AE%C0%AE/admin', 'an overlong `.`'],
    ['/%C0%AF', 'an overlong `/`'],
    ['/%E0%80%AE', 'a three-byte overlong `.`'],
    ['/%ED%A0%80', 'a UTF-16 surrogate'],
    ['/%F4%90%80%80', 'past U+10FFFF'],
    ['/%FF', 'a byte UTF-8 never uses'],
    ['/%C3', 'a cut sequence'],
    ['/%A9', 'a lone continuation byte'],
    ['/caf%E9', 'Latin-1'],
  ])('refuses escapes that are not UTF-8: %s (%s)', (path) => {
    expect(readPath(path)).toBeNull()
  })

  it.each([
    '/a%00',
    '/a%09b',
    '/a%0A',
    '/a%0d%0a',
    '/a%1F',
    '/a%7F',
    '/a%C2%80',
    '/a%C2%85',
    '/a%C2%9F',
    '/a\u0000',
    '/a\tb',
    '/a\nb',
    '/a\u007f',
    '/a\u0085',
  ])('refuses a control character, raw or escaped: %j', (path) => {
    expect(readPath(path)).toBeNull()
  })

  it.each([
    ['/%2561dmin', '%25 then hex'],
    ['/static/..%252Fadmin', 'an escaped slash, escaped again'],
    ['/%25%36%31dmin', 'the second escape spelled with escapes'],
    ['/%252561dmin', 'three times'],
    ['/%25u0061dmin', "IIS's %u, escaped"],
    ['/%EF%BC%8561dmin', 'a fullwidth % that NFKC turns into %'],
    ['/%25%EF%BC%94%EF%BC%91', 'fullwidth hex digits that NFKC turns into 41'],
  ])('refuses what a second decoding would change: %s (%s)', (path) => {
    expect(readPath(path)).toBeNull()
  })

  it('keeps a % that a second decoding leaves alone', () => {
    expect(readPath('/100%25off')).not.toBeNull()
    expect(readPath('/50%25')).not.toBeNull()
  })

  it.each(['/a/.../b', '/a/..%20/b', '/a/%2e%2e%20/b', '/a/%20/b', '/a/. ./b', '/a/...;x/b'])(
    'refuses a segment of dots and spaces other than . and ..: %j',
    (path) => {
      expect(readPath(path)).toBeNull()
    },
  )

  it('refuses a lone surrogate', () => {
    expect(readPath('/a\ud800')).toBeNull()
  })

  it('refuses what does not start with /', () => {
    expect(readPath('')).toBeNull()
    expect(readPath('admin')).toBeNull()
    expect(readPath('*')).toBeNull()
  })

  it('refuses a crafted path with more readings than MAX_READINGS', () => {
    const crafted = '/A;x=y/.%2E;/B./%2e%2e/%EF%BC%A3D\\x//y;z/../%E2%80%A5/q.%20/'
    expect(readPath(crafted)).toBeNull()
    expect(readPath('/ADMIN;a=b/./USERS./x/../%EF%BD%81//b;c')?.length).toBeLessThanOrEqual(
      MAX_READINGS,
    )
  })
})

describe('readPath: the readings', () => {
  const reads = (path: string, reading: string) => expect(readings(path)).toContain(reading)

  it('strips path parameters from every segment, as Tomcat, Jetty and Spring do', () => {
    reads('/admin;jsessionid=x/users', '/admin/users')
    reads('/admin;a=b/users;c=d', '/admin/users')
    reads('/;x/admin', '/admin')
  })

  it('strips parameters before resolving dot segments, so `..;` is `..`', () => {
    reads('/static/..;/admin', '/admin')
    reads('/static/..;x=y/admin', '/admin')
  })

  it('also keeps the reading with parameters stripped and dot segments left', () => {
    reads('/admin;x/../public', '/admin/../public')
    reads('/admin;x/../public', '/public')
  })

  it('folds case, marking the reading folded', () => {
    reads('/ADMIN/Users', '~/admin/users')
    expect(readings('/ADMIN/Users')).not.toContain('/admin/users')
  })

  it('strips trailing dots and spaces of a segment, as Windows does', () => {
    reads('/admin./users', '/admin/users')
    reads('/admin%20/users', '/admin/users')
    reads('/admin.%20./users', '/admin/users')
    reads('/report.pdf.', '/report.pdf')
  })

  it('applies NFKC: fullwidth letters, the long s and the Kelvin sign', () => {
    reads('/%EF%BD%81%EF%BD%84%EF%BD%8D%EF%BD%89%EF%BD%8E', '/admin')
    reads('/ａｄｍｉｎ', '/admin')
    reads('/%C5%BFecret', '/secret')
    reads('/%E2%84%AAey', '/Key')
    reads('/%E2%84%AAey', '~/key')
  })

  it('reads NFKC dots and slashes as dots and slashes', () => {
    reads('/static/%E2%80%A5/admin', '/admin')
    reads('/static/%EF%BC%8E%EF%BC%8E%EF%BC%8Fadmin', '/admin')
  })

  it('reads backslashes as slashes, raw or escaped', () => {
    reads('/static\\..\\admin', '/admin')
    reads('/static/..%5Cadmin', '/admin')
    reads('/static/..%5cadmin', '/static/..\\admin')
  })

  it('decodes an escaped slash, and keeps the reading that does not', () => {
    reads('/static/..%2Fadmin', '/admin')
    reads('/static/..%2Fadmin', '/static/..%2Fadmin')
  })

  it('merges slashes and resolves dot segments, escaped dots included', () => {
    reads('//admin//users', '/admin/users')
    reads('/static/%2e%2E/admin', '/admin')
    reads('/a/./b/../c', '/a/c')
    reads('/a/b/..', '/a/')
    reads('/../../x', '/x')
  })
})

describe('foldCase', () => {
  it('lower-cases after NFKC, so every spelling of a letter folds alike', () => {
    expect(foldCase('/ADMIN')).toBe('/admin')
    expect(foldCase('/ＡＤＭＩＮ')).toBe('/admin')
    expect(foldCase('ſ')).toBe('s')
    expect(foldCase('\u212a')).toBe('k')
    expect(foldCase(foldCase('ǅ'))).toBe(foldCase('ǅ'))
  })
})

describe('hasControlCharacter', () => {
  it('finds C0, DEL and C1 controls and nothing else', () => {
    expect(hasControlCharacter('/a\u0000')).toBe(true)
    expect(hasControlCharacter('/a\u007f')).toBe(true)
    expect(hasControlCharacter('/a\u009f')).toBe(true)
    expect(hasControlCharacter('/a b/é/\u00a0')).toBe(false)
  })
})
