/**
 * Django's list of 20,000 common passwords (CommonPasswordValidator), shipped as a JSON module:
 * the distinct entries, sorted and front-coded (see data/README.md). A JSON module bundles with
 * wrangler, vitest-pool-workers and Node (the user CLI) alike, with no module rule and no async
 * set-up; front coding brings the list to about 42 KiB gzipped in the Worker bundle, against
 * 80 KiB for Django's own .gz file.
 */
import data from './data/common-passwords.json'

let passwords: ReadonlySet<string> | null = null

/**
 * Expands the front-coded list: each line is a digit, the number of leading characters shared
 * with the previous entry, then the rest of the entry.
 */
export function decodeFrontCoded(coded: string): string[] {
  const entries: string[] = []
  let previous = ''
  for (const line of coded.split('\n')) {
    previous = previous.slice(0, Number(line[0])) + line.slice(1)
    entries.push(previous)
  }
  return entries
}

/**
 * The set of common passwords (lower-case, stripped), decoded on first use and then kept for the
 * isolate's life: about 20,000 short strings, well under 2 MB of a Worker's 128 MB.
 */
export function commonPasswords(): ReadonlySet<string> {
  passwords ??= new Set(decodeFrontCoded(data.passwords))
  return passwords
}
