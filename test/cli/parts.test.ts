/** The CLI's pure parts, in process: no wrangler, no workerd. */
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import type { CliBindings } from '../../scripts/cli/bindings'
import { CommandContext, type Io } from '../../scripts/cli/commands'
import { CliError } from '../../scripts/cli/errors'
import { renderTable } from '../../scripts/cli/table'
import { readFirstLine } from '../../scripts/cli/terminal'
import { StorageUnavailable } from '../../src/storage'

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

describe('CommandContext.change', () => {
  const io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr } as Io
  const bindings = async () => ({ db: {}, kv: {}, secrets: [] }) as unknown as CliBindings

  it('tells the operator a change that storage stopped was undone, and that trying again is safe', async () => {
    const context = new CommandContext(io, bindings, ' --remote')
    const failing = context.change('Changing the password', () =>
      Promise.reject(new StorageUnavailable()),
    )
    await expect(failing).rejects.toThrow(CliError)
    await expect(failing).rejects.toThrow(
      "Changing the password failed: the user's sessions could not all be updated or ended, so " +
        'the change was undone (see the messages above). Try again.',
    )
  })

  it('returns what the change returned, and lets other errors through', async () => {
    const context = new CommandContext(io, bindings)
    expect(await context.change('done', async () => 3)).toBe(3)
    await expect(context.change('x', () => Promise.reject(new TypeError('bug')))).rejects.toThrow(
      TypeError,
    )
  })
})
