/** The CLI's expected failures, and the exit code each one ends with. */

/** Exit codes: 0 done, 1 refused (a user error: bad input, missing user), 2 bad usage. */
export const EXIT_OK = 0
export const EXIT_ERROR = 1
export const EXIT_USAGE = 2

/** A refusal the operator can act on; printed as `Error: <message>`, never with a stack. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_ERROR,
  ) {
    super(message)
    this.name = 'CliError'
  }
}

/** A command line that does not parse; printed with the usage of `command` (or of all). */
export class UsageError extends CliError {
  constructor(
    message: string,
    readonly command: string | null = null,
  ) {
    super(message, EXIT_USAGE)
    this.name = 'UsageError'
  }
}
