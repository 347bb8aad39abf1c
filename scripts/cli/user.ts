/**
 * `npm run user -- <command>`: create users, change passwords, deactivate, import from Django.
 * See `npm run user -- --help`, and scripts/cli/main.ts.
 */
import { main } from './main'

const code = await main(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
})
process.exitCode = code
// Everything is closed by now; should a stray handle keep Node alive, exit anyway, after the
// output has had time to drain.
setTimeout(() => process.exit(code), 2000).unref()
