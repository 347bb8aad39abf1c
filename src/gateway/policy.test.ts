import { describe, expect, it } from 'vitest'
import { accessFor, compileGlob, compilePolicy, isBrowserNavigation, originalPath } from './policy'

const matches = (glob: string, path: string) => compileGlob(glob).test(path)

describe('compileGlob', () => {
  it('matches a glob without wildcards exactly', () => {
    expect(matches('/health', '/health')).toBe(true)
    expect(matches('/health', '/health/')).toBe(false)
    expect(matches('/health', '/healthz')).toBe(false)
    expect(matches('/health', '/Health')).toBe(false)
  })

  it('lets * match within one segment only', () => {
    expect(matches('/docs/*', '/docs/intro')).toBe(true)
    expect(matches('/docs/*', '/docs/')).toBe(true)
    expect(matches('/docs/*', '/docs/a/b')).toBe(false)
    expect(matches('/files/*.css', '/files/site.css')).toBe(true)
    expect(matches('/files/*.css', '/files/a/site.css')).toBe(false)
  })

  it('lets ** match across segments', () => {
    expect(matches('/static/**', '/static/a/b/c.js')).toBe(true)
    expect(matches('/api/**/public', '/api/v1/x/public')).toBe(true)
    expect(matches('/api/**/public', '/api/public')).toBe(true)
    expect(matches('/**.png', '/img/a/b.png')).toBe(true)
  })

  it('lets a trailing /** match the directory itself', () => {
    expect(matches('/admin/**', '/admin')).toBe(true)
    expect(matches('/admin/**', '/admin/')).toBe(true)
    expect(matches('/admin/**', '/administrator')).toBe(false)
  })

  it('treats regular-expression characters literally', () => {
    expect(matches('/a.b', '/a.b')).toBe(true)
    expect(matches('/a.b', '/axb')).toBe(false)
    expect(matches('/(x)+[y]', '/(x)+[y]')).toBe(true)
  })
})

describe('compilePolicy', () => {
  const policy = compilePolicy({ publicPaths: ['/static/**', '/'], staffPaths: ['/admin/**'] })

  it('requires a user everywhere that is not listed', () => {
    expect(policy.requirementFor('/api/things')).toBe('user')
  })

  it('lets public and staff globs decide, staff winning over public', () => {
    expect(policy.requirementFor('/static/app.js')).toBe('public')
    expect(policy.requirementFor('/')).toBe('public')
    expect(policy.requirementFor('/admin/users')).toBe('staff')
    const both = compilePolicy({ publicPaths: ['/**'], staffPaths: ['/admin/**'] })
    expect(both.requirementFor('/admin')).toBe('staff')
  })

  it('takes the stricter answer of the raw and the normalized path', () => {
    expect(policy.requirementFor('/static/..%2Fapi')).toBe('user')
    expect(policy.requirementFor('/static/..%2Fadmin')).toBe('staff')
    expect(policy.requirementFor('/%61dmin')).toBe('staff')
  })

  it.each([
    ['/admin;jsessionid=x/users', 'path parameters'],
    ['/static/..;/admin', '`..;` as a dot segment'],
    ['/ADMIN/users', 'case'],
    ['/admin./users', 'a trailing dot'],
    ['/admin%20/users', 'a trailing space'],
    ['/%EF%BD%81%EF%BD%84%EF%BD%8D%EF%BD%89%EF%BD%8E', 'fullwidth letters (NFKC)'],
    ['/static\\..\\admin', 'backslashes'],
    ['/static/..%5Cadmin', 'an escaped backslash'],
    ['/admin;x/../public', 'parameters stripped, dot segments not resolved'],
    ['/ADMIN/..;/public', 'case folded, dot segments not resolved'],
  ])('answers staff for %s (%s)', (path) => {
    expect(policy.requirementFor(path)).toBe('staff')
  })

  it('is null for a path it cannot read one way only', () => {
    for (const path of ['/%2561dmin', '/a%00', '/%C0%AE%C0%AE/admin', '/a%zz', '/a/.../b']) {
      expect(policy.requirementFor(path), path).toBeNull()
    }
  })

  it('calls a path public only when every reading is', () => {
    expect(policy.requirementFor('/static/..;/api')).toBe('user')
    expect(policy.requirementFor('/static/%2e%2e%2Fapi')).toBe('user')
    expect(policy.requirementFor('/STATIC/app.js')).toBe('user')
    expect(policy.requirementFor('/static/App.JS')).toBe('public')
    expect(policy.requirementFor('/static/a%20b.css')).toBe('public')
  })

  it('matches case-folded globs against the readings of case-insensitive origins', () => {
    const mixed = compilePolicy({ publicPaths: ['/Static/**'], staffPaths: ['/Admin/**'] })
    expect(mixed.requirementFor('/admin/x')).toBe('staff')
    expect(mixed.requirementFor('/Static/x')).toBe('public')
    // A case-sensitive origin serves something else at /static/x.
    expect(mixed.requirementFor('/static/x')).toBe('user')
    const kelvin = compilePolicy({ publicPaths: [], staffPaths: ['/key/**', '/secret/**'] })
    expect(kelvin.requirementFor('/%E2%84%AAey/1')).toBe('staff')
    expect(kelvin.requirementFor('/%C5%BFecret')).toBe('staff')
  })
})

describe('accessFor', () => {
  const user = { is_staff: false }
  const staff = { is_staff: true }

  it('allows anyone on public paths', () => {
    expect(accessFor('public', null)).toBe('allow')
    expect(accessFor('public', user)).toBe('allow')
  })

  it('asks anonymous visitors to log in, and denies non-staff on staff paths', () => {
    expect(accessFor('user', null)).toBe('login')
    expect(accessFor('staff', null)).toBe('login')
    expect(accessFor('user', user)).toBe('allow')
    expect(accessFor('staff', user)).toBe('deny')
    expect(accessFor('staff', staff)).toBe('allow')
  })
})

describe('isBrowserNavigation', () => {
  it('is a GET whose Accept names text/html', () => {
    expect(isBrowserNavigation('GET', 'text/html,application/xhtml+xml,*/*;q=0.8')).toBe(true)
    expect(isBrowserNavigation('GET', 'application/json, text/html;q=0.1')).toBe(true)
    expect(isBrowserNavigation('GET', 'application/json')).toBe(false)
    expect(isBrowserNavigation('GET', '*/*')).toBe(false)
    expect(isBrowserNavigation('GET', 'text/htmlx')).toBe(false)
    expect(isBrowserNavigation('GET', undefined)).toBe(false)
    expect(isBrowserNavigation('POST', 'text/html')).toBe(false)
  })
})

describe('originalPath', () => {
  it('keeps the path of an origin-form or absolute URI, without query or fragment', () => {
    expect(originalPath('/admin/x?y=1')).toBe('/admin/x')
    expect(originalPath('https://app.example.com/a/b?c#d')).toBe('/a/b')
    expect(originalPath('https://app.example.com')).toBe('/')
  })

  it('is null for a missing header, a relative path or control characters', () => {
    expect(originalPath(undefined)).toBeNull()
    expect(originalPath('admin')).toBeNull()
    expect(originalPath('*')).toBeNull()
    expect(originalPath('/a\tb')).toBeNull()
  })

  it('is null for any raw comma (a header sent twice), and keeps an escaped one', () => {
    expect(originalPath('/public/x, /admin')).toBeNull()
    expect(originalPath('/public/x?a=1,2')).toBeNull()
    expect(originalPath('/a,b')).toBeNull()
    expect(originalPath('/a%2Cb')).toBe('/a%2Cb')
  })
})
