/**
 * `npm run bench:django`: Django + DRF under gunicorn and sessiongate serving the same
 * authenticated request, loaded by wrk one after the other on this machine; the ratio answers
 * issue 5's goal of at least 2x Django's throughput. See scripts/bench/django/main.ts.
 */
import { main } from './main'

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error) => {
    process.stderr.write(
      `[bench:django] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    )
    process.exitCode = 1
  },
)
