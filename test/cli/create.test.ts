/**
 * `npm run user -- create` and the command line itself, black-box: the real CLI in a child
 * process over a temporary local state, read through getPlatformProxy as `wrangler dev` reads it.
 */
import { describe, expect, it } from 'vitest'
import { loadHashers } from '../../scripts/cli/hashers'
import { runCli, runShell, useLocalState } from './helpers'

const PASSWORD = 'secret pass phrase 1'
const suite = useLocalState()

describe('create', () => {
  it('creates a user from a password on stdin, with an argon2id hash', async () => {
    const username = suite.name('ada')
    const result = await suite.user(
      ['create', username, '--email', 'Ada@Example.COM', '--first-name', 'Ada', '--last-name', 'L'],
      `${PASSWORD}\n`,
    )
    expect(result).toMatchObject({ code: 0, stdout: '' })
    expect(result.stderr).toMatch(
      new RegExp(`^User '${username}' created successfully \\(id \\d+\\)\\.\n$`),
    )
    const row = await suite.local.users.getByUsername(username)
    expect(row).toMatchObject({
      email: 'Ada@example.com',
      first_name: 'Ada',
      last_name: 'L',
      is_staff: 0,
      is_superuser: 0,
      is_active: 1,
      last_login: null,
    })
    expect(row?.password).toMatch(/^argon2\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
  })

  it('makes --superuser staff too, as Django does', async () => {
    const username = suite.name('root')
    const result = await suite.user(['create', username, '--superuser'], `${PASSWORD}\n`)
    expect(result.stderr).toMatch(/^Superuser '.*' created successfully/)
    expect(await suite.local.users.getByUsername(username)).toMatchObject({
      is_staff: 1,
      is_superuser: 1,
    })
  })

  it('takes the password exactly as `printf ... | npm run user -- create` gives it', async () => {
    const username = suite.name('alice')
    const result = await runShell(
      `printf 'secret pass phrase 1\\n' | npm run user -- create ${username} ` +
        `--email a@example.com --persist-to '${suite.dir}'`,
    )
    expect(result.stderr).toContain(`User '${username}' created successfully`)
    expect(result.code).toBe(0)
    // The stored hash is of the line without its newline.
    const hashers = await loadHashers()
    const stored = (await suite.local.users.getByUsername(username))?.password ?? null
    expect(await hashers.checkPassword(PASSWORD, stored)).toMatchObject({ valid: true })
    expect(await hashers.checkPassword(`${PASSWORD}\n`, stored)).toMatchObject({ valid: false })
  })

  it('exits 1 for a duplicate username, before reading any password', async () => {
    const username = suite.name('dup')
    await suite.local.seedUser(username)
    const result = await suite.user(['create', username])
    expect(result).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'Error: That username is already taken.\n',
    })
  })

  it("exits 1 for a username Django's validator refuses", async () => {
    const result = await suite.user(['create', 'has space'], `${PASSWORD}\n`)
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/^Error: Enter a valid username\./)
  })

  it('exits 1 with every validator message for a weak piped password', async () => {
    const username = suite.name('weak')
    const result = await suite.user(['create', username], '12345678\n')
    expect(result.code).toBe(1)
    expect(result.stderr).toBe(
      'This password is too common.\n' +
        'This password is entirely numeric.\n' +
        'Error: Password refused; choose another, or pass --no-validate to bypass the validators.\n',
    )
    expect(await suite.local.users.getByUsername(username)).toBeNull()
  })

  it('accepts a weak password with --no-validate, never a blank one', async () => {
    const weak = await suite.user(['create', suite.name('weak'), '--no-validate'], '12345678\n')
    expect(weak.code).toBe(0)
    const blank = await suite.user(['create', suite.name('blank'), '--no-validate'], '\n')
    expect(blank).toMatchObject({ code: 1, stderr: "Error: Blank passwords aren't allowed.\n" })
  })

  it('exits 1 when stdin gives no password at all', async () => {
    const result = await suite.user(['create', suite.name('nopass')], '')
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/^Error: No password on standard input/)
  })
})

describe('usage', () => {
  it('prints the help of every command with --help, exit 0', async () => {
    const result = await runCli(['--help'])
    expect(result).toMatchObject({ code: 0, stderr: '' })
    for (const command of ['create', 'passwd', 'deactivate', 'list', 'import', 'end-sessions']) {
      expect(result.stdout).toContain(`  ${command} `)
    }
    const create = await runCli(['create', '--help'])
    expect(create.stdout).toMatch(/^Usage: npm run user -- create <username>/)
    expect(create.stdout).toContain('--no-validate')
  })

  it('exits 2 for no or an unknown command, an unknown option, a missing argument', async () => {
    expect((await runCli([])).code).toBe(2)
    expect((await runCli(['frobnicate'])).code).toBe(2)
    const option = await runCli(['create', 'x', '--colour', 'red'])
    expect(option.code).toBe(2)
    expect(option.stderr).toMatch(/^Error: Unknown option '--colour'/)
    const missing = await runCli(['passwd'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/^Error: expected <username>, got 0 argument\(s\)/)
    expect((await runCli(['list', '--remote', '--persist-to', '/tmp/x'])).code).toBe(2)
  })
})
