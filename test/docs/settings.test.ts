/**
 * The docs list the settings the code reads: the README's Configuration tables, and the Settings
 * table of docs/api.md when that file has one, name exactly the settings and secrets of SETTINGS
 * (src/config.ts), each in the table of its kind and with its default as the code has it.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { SETTINGS } from '../../src/config'

const ROOT = join(import.meta.dirname, '../..')

/** A Markdown table's rows, by the lower-cased header of each column. */
type Table = Record<string, string>[]

/** The cells of a table row, without the outer pipes. Settings tables hold no escaped `|`. */
function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split('|')
    .map((cell) => cell.trim())
}

/**
 * The tables of the section under `heading` (a `## ` line), up to the next heading of that level
 * or higher; null when the document has no such section.
 */
function sectionTables(markdown: string, heading: string): Table[] | null {
  const lines = markdown.split('\n')
  const start = lines.findIndex((line) => line.trim() === heading)
  if (start < 0) return null
  const tables: Table[] = []
  let header: string[] | null = null
  let inFence = false
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('```')) inFence = !inFence
    if (inFence) continue
    if (/^#{1,2} /.test(line)) break
    if (!line.trim().startsWith('|')) {
      header = null
      continue
    }
    const row = cells(line)
    if (header === null) {
      header = row.map((cell) => cell.toLowerCase())
      tables.push([])
    } else if (!row.every((cell) => /^:?-+:?$/.test(cell))) {
      const columns = header
      tables.at(-1)?.push(Object.fromEntries(row.map((cell, index) => [columns[index], cell])))
    }
  }
  return tables
}

/** The setting a row is about: its first cell, `NAME` in backticks. */
function nameOf(row: Record<string, string>): string {
  const first = Object.values(row)[0] ?? ''
  return first.replace(/^`|`$/g, '')
}

/** The rows of the tables whose first column is headed `kind` (`setting` or `secret`). */
function rowsOfKind(tables: Table[], kind: string): Record<string, string>[] {
  return tables
    .filter((table) => table.length > 0 && Object.keys(table[0] ?? {})[0] === kind)
    .flat()
}

const names = (kind: 'setting' | 'secret') =>
  SETTINGS.filter((setting) => setting.kind === kind)
    .map((setting) => setting.name)
    .sort()

function read(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8')
}

describe("the README's Configuration section", () => {
  const tables = sectionTables(read('README.md'), '## Configuration') ?? []

  it('lists every setting, and nothing else, in its settings table', () => {
    expect(rowsOfKind(tables, 'setting').map(nameOf).sort()).toEqual(names('setting'))
  })

  it('lists every secret, and nothing else, in its secrets table', () => {
    expect(rowsOfKind(tables, 'secret').map(nameOf).sort()).toEqual(names('secret'))
  })

  it("gives each setting the code's default", () => {
    for (const row of rowsOfKind(tables, 'setting')) {
      const setting = SETTINGS.find((candidate) => candidate.name === nameOf(row))
      if (setting?.default == null) {
        // No value: the table says in words what happens (none, any host, ...).
        expect(row.default, nameOf(row)).not.toBe('')
      } else {
        expect(row.default, nameOf(row)).toBe(`\`${setting.default}\``)
      }
    }
  })
})

describe("docs/api.md's Settings section, once it has one", () => {
  const path = join(ROOT, 'docs/api.md')
  const tables = existsSync(path) ? sectionTables(read('docs/api.md'), '## Settings') : null

  it.skipIf(tables === null)('lists every setting and secret, and nothing else', () => {
    const listed = (tables ?? []).flat().map(nameOf).sort()
    expect(listed).toEqual(SETTINGS.map((setting) => setting.name).sort())
    for (const kind of ['setting', 'secret'] as const) {
      for (const row of rowsOfKind(tables ?? [], kind)) {
        expect(names(kind), `${nameOf(row)} is listed as a ${kind}`).toContain(nameOf(row))
      }
    }
  })
})

describe('sectionTables', () => {
  const markdown = [
    '# Title',
    '## Settings',
    'Some words.',
    '',
    '| setting | default |',
    '|---|---|',
    '| `A` | `1` |',
    '',
    '```sh',
    '## not a heading',
    '```',
    '| secret | meaning |',
    '| :-- | --: |',
    '| `B` | b |',
    '### Sub-section',
    '| name | x |',
    '|---|---|',
    '| `C` | c |',
    '## Next',
    '| setting | default |',
    '|---|---|',
    '| `D` | `4` |',
  ].join('\n')

  it('reads every table of the section, sub-sections included, and stops at the next one', () => {
    expect(sectionTables(markdown, '## Settings')).toEqual([
      [{ setting: '`A`', default: '`1`' }],
      [{ secret: '`B`', meaning: 'b' }],
      [{ name: '`C`', x: 'c' }],
    ])
  })

  it('answers null for a document without the section', () => {
    expect(sectionTables(markdown, '## Configuration')).toBeNull()
  })
})
