/** The CLI's pure parts, in process: no wrangler, no workerd. */
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { CommandContext, type Io } from '../../scripts/cli/commands'
import { CliError } from '../../scripts/cli/errors'
import { renderTable } from '../../scripts/cli/table'
import { readFirstLine } from '../../scripts/cli/terminal'
import type { UserRow } from '../../src/accounts/users'

describe('readFirstLine', () => {
  it('returns the first line without its line ending', async () => {
    expect(await readFirstLine(Readable.from(['secret pass phrase 1\n']))).toBe(
      'secret pass phrase 1',
    )
    expect(await readFirstLine(Readable.from(['crlf line\r\n', 'second\n']))).toBe('crlf line')
    expect(await readFirstLine(Readable.from(['no newline at all']))).toBe('no newline at all')
  })

  it('joins a line that arrives in pieces, and keeps inner and trailing spaces', async () => {
    expect(await readFirstLine(Readable.from(['  two ', 'pieces  ', '\nrest']))).toBe(
      '  two pieces  ',
    )
  })

  it('tells an empty line from no input', async () => {
    expect(await readFirstLine(Readable.from(['\n']))).toBe('')
    expect(await readFirstLine(Readable.from([]))).toBeNull()
  })
})

describe('renderTable', () => {
  it('aligns columns two spaces apart under a dashed rule, without trailing spaces', () => {
    expect(
      renderTable(
        ['id', 'username'],
        [
          ['1', 'ada'],
          ['10', 'zoë'],
        ],
      ),
    ).toBe('id  username\n--  --------\n1   ada\n10  zoë\n')
  })
})

describe('CommandContext.revoke', () => {
  const io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr } as Io
  const user = { id: 7, username: 'ada' } as UserRow

  it('says what was done and the command that finishes the job, with the same target', async () => {
    const context = new CommandContext(io, () => Promise.reject(new Error('unused')), ' --remote')
    const failing = context.revoke(user, 'The password was changed', () =>
      Promise.reject(new Error('wrangler kv key delete failed: network')),
    )
    await expect(failing).rejects.toThrow(CliError)
    await expect(failing).rejects.toThrow(
      "The password was changed, but the user's sessions could not all be updated or ended: " +
        'wrangler kv key delete failed: network\n' +
        'Finish with: npm run user -- end-sessions ada --remote',
    )
  })

  it('returns what the revocation returned', async () => {
    const context = new CommandContext(io, () => Promise.reject(new Error('unused')))
    expect(await context.revoke(user, 'done', async () => 3)).toBe(3)
  })
})
