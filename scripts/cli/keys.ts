/**
 * `npm run keys -- generate`: prints a new private assertion key (a JWK with a random `kid`) as
 * one JSON line, for ASSERTION_KEYS. `npm run keys -- public` reads ASSERTION_KEYS (a JWK or an
 * array) on stdin and prints the public JWKS the gateway will serve.
 *
 * Rotation: put the new key first and keep the old one after it for at least the JWKS cache
 * time (300 s) plus the assertion lifetime (60 s); then drop the old one.
 */
import { generatePrivateJwk, publicJwks } from '../lib/jwk.mjs'

const USAGE = `Usage:
  npm run keys -- generate            print a new private JWK (one JSON line) for ASSERTION_KEYS
  npm run keys -- public < keys.json  print the public JWKS for ASSERTION_KEYS read from stdin
`

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

async function main(args: string[]): Promise<number> {
  const [command] = args
  if (command === 'generate') {
    process.stdout.write(`${JSON.stringify(await generatePrivateJwk())}\n`)
    return 0
  }
  if (command === 'public') {
    try {
      process.stdout.write(`${JSON.stringify(publicJwks(JSON.parse(await readStdin())))}\n`)
      return 0
    } catch (error) {
      process.stderr.write(`keys: stdin is not a JSON JWK or array of JWKs (${error})\n`)
      return 1
    }
  }
  process.stderr.write(USAGE)
  return command === undefined || command === '--help' || command === '-h' ? 0 : 2
}

process.exitCode = await main(process.argv.slice(2))
