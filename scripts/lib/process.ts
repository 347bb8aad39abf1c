/**
 * Runs a command to its end and keeps what it printed: the CLI's wrangler calls, the bench's
 * builds and tools, and the CLI's own tests all go through here.
 */
import { spawn } from 'node:child_process'

/** What a command printed, and how it ended (null: killed by a signal). */
export interface CommandResult {
  code: number | null
  stdout: string
  stderr: string
}

export interface CommandOptions {
  cwd?: string
  /** Added to this process's environment. */
  env?: Record<string, string>
  /** Written to the command's stdin, which is then closed; without it stdin is /dev/null. */
  input?: string
  /** The command is killed (and the promise rejected) after this long. Default: no limit. */
  timeoutMs?: number
}

/** Runs `command` with `args` (no shell: each argument reaches it as it is). */
export function runCommand(
  command: string,
  args: readonly string[],
  options: CommandOptions = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
    })
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
    })
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            child.kill('SIGKILL')
            reject(new Error(`${command} ${args.join(' ')}: no end after ${options.timeoutMs} ms`))
          }, options.timeoutMs)
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
    if (options.input !== undefined) child.stdin?.end(options.input)
  })
}
