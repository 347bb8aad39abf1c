/**
 * D1 and KV through wrangler's own commands (`wrangler d1 execute`, `wrangler kv key`), for the
 * CLI's `--remote` mode: wrangler brings the account's credentials (`wrangler login` or
 * CLOUDFLARE_API_TOKEN) and the resource ids from wrangler.toml, so the CLI needs neither.
 *
 * The adapters implement the few methods of `D1Database` and `KVNamespace` that UserRepository,
 * SessionIndex, SessionStore and the import use, so those run unchanged over them: the CLI's SQL
 * is the Worker's SQL. The same commands also work with `--local --persist-to`, which is how the
 * tests run these adapters without an account.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { runCommand } from '../lib/process'

/** Where wrangler commands act: the deployed resources, or a local persistence directory. */
export type WranglerLocation = { remote: true } | { remote: false; persistTo: string }

/** What every wrangler command of an adapter is pointed at. */
export interface WranglerTarget {
  /** wrangler's configuration file (the bindings' ids come from it). */
  configPath: string
  location: WranglerLocation
}

/** The output of one wrangler run. */
export interface WranglerOutput {
  code: number
  stdout: string
  stderr: string
}

/** Runs wrangler with these arguments (no shell: each argument reaches wrangler as it is). */
export type WranglerRunner = (args: readonly string[]) => Promise<WranglerOutput>

/** A wrangler command that failed, with what wrangler said. */
export class WranglerError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'WranglerError'
  }
}

/**
 * Environment of every wrangler child process: no metrics, no error reports, no fetch of the
 * `cf` object, so a command never phones home beyond the API call it is for.
 */
export const WRANGLER_ENV = {
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_SEND_ERROR_REPORTS: 'false',
  // wrangler prints `--json` results and KV values at its default level, `log`: a WRANGLER_LOG of
  // `warn` would hide them and `debug` would mix its own lines into them.
  WRANGLER_LOG: 'log',
} as const

/**
 * Most wrangler processes running at once (each is a Node process of ~100 MB): ending a user's
 * twenty sessions then costs five rounds, not twenty processes at once.
 */
const MAX_CONCURRENT = 4

/**
 * The runner for wrangler installed in this project (not `npx`, which costs a resolution per
 * call). stdin is closed, so wrangler sees no terminal and never prompts: it fails with a message
 * instead (for example when no credentials are set).
 */
export function wranglerRunner(cwd: string, maxConcurrent = MAX_CONCURRENT): WranglerRunner {
  const require = createRequire(import.meta.url)
  const bin = join(dirname(require.resolve('wrangler/package.json')), 'bin', 'wrangler.js')
  let running = 0
  const waiting: (() => void)[] = []

  async function slot(): Promise<void> {
    if (running < maxConcurrent) {
      running++
      return
    }
    // The finishing run hands its slot straight to the next waiter.
    await new Promise<void>((resolve) => waiting.push(resolve))
  }

  function release(): void {
    const next = waiting.shift()
    if (next) next()
    else running--
  }

  return async (args) => {
    await slot()
    try {
      const { code, stdout, stderr } = await runCommand(process.execPath, [bin, ...args], {
        cwd,
        env: WRANGLER_ENV,
      })
      return { code: code ?? 1, stdout, stderr }
    } finally {
      release()
    }
  }
}

/** `--remote`, or `--local --persist-to DIR`. */
export function locationArgs(location: WranglerLocation): string[] {
  return location.remote ? ['--remote'] : ['--local', '--persist-to', location.persistTo]
}

/**
 * `wrangler d1 execute`: the statements as one `--command` (wrangler splits it on `;` outside
 * literals and answers one result per statement), JSON out, no confirmation prompt.
 */
export function d1ExecuteArgs(target: WranglerTarget, binding: string, sql: string): string[] {
  return [
    'd1',
    'execute',
    binding,
    '--config',
    target.configPath,
    ...locationArgs(target.location),
    '--json',
    '--yes',
    // `--command=...` in one argument: SQL starting with `-` cannot be read as another flag.
    `--command=${sql}`,
  ]
}

/** `wrangler kv key get|put|delete` for one key (put reads the value from a file). */
export function kvKeyArgs(
  target: WranglerTarget,
  binding: string,
  operation: 'get' | 'put' | 'delete',
  key: string,
  options: { path?: string; ttl?: number } = {},
): string[] {
  // A key starting with `-` would be read as a flag; session keys start with `session:`.
  if (key.startsWith('-')) throw new WranglerError(`refusing a KV key that starts with '-': ${key}`)
  const args = ['kv', 'key', operation, key, '--binding', binding, '--config', target.configPath]
  args.push(...locationArgs(target.location))
  if (operation === 'get') args.push('--text')
  if (options.path !== undefined) args.push('--path', options.path)
  if (options.ttl !== undefined) args.push('--ttl', String(options.ttl))
  return args
}

function hex(bytes: Uint8Array): string {
  let out = ''
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0')
  return out
}

/**
 * A bound value as an SQLite literal. `wrangler d1 execute` takes no parameters, so values are
 * inlined; text goes in as `CAST(X'<utf-8 hex>' AS TEXT)`, which holds only hex digits: no quote,
 * `;`, `$` or comment can reach the SQL, whatever the value holds.
 */
export function sqlLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'NULL'
  if (typeof value === 'boolean') return value ? '1' : '0'
  if (typeof value === 'bigint') return value.toString()
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`cannot bind ${value} in SQL`)
    return String(value)
  }
  if (typeof value === 'string') return `CAST(X'${hex(new TextEncoder().encode(value))}' AS TEXT)`
  if (value instanceof Uint8Array) return `X'${hex(value)}'`
  if (value instanceof ArrayBuffer) return `X'${hex(new Uint8Array(value))}'`
  throw new TypeError(`cannot bind a value of type ${typeof value} in SQL`)
}

/**
 * The SQL with every `?NNN` and `?` parameter (outside quotes and comments) replaced by the
 * literal of its bound value, numbered as SQLite numbers them: a bare `?` takes the number after
 * the largest so far.
 */
export function renderSql(sql: string, params: readonly unknown[]): string {
  let out = ''
  let largest = 0
  let i = 0
  while (i < sql.length) {
    const char = sql[i] as string
    const next = sql[i + 1]
    let end = i + 1
    if (char === "'" || char === '"' || char === '`' || char === '[') {
      const close = char === '[' ? ']' : char
      end = sql.indexOf(close, i + 1)
      // A doubled quote inside a literal is an escaped quote, not its end.
      while (end !== -1 && close !== ']' && sql[end + 1] === close)
        end = sql.indexOf(close, end + 2)
      end = end === -1 ? sql.length : end + 1
    } else if (char === '-' && next === '-') {
      end = sql.indexOf('\n', i)
      end = end === -1 ? sql.length : end
    } else if (char === '/' && next === '*') {
      end = sql.indexOf('*/', i + 2)
      end = end === -1 ? sql.length : end + 2
    } else if (char === '?') {
      const digits = /^\d*/.exec(sql.slice(i + 1))?.[0] ?? ''
      const number = digits === '' ? largest + 1 : Number(digits)
      if (number < 1 || number > params.length) {
        throw new WranglerError(`SQL parameter ?${number} has no bound value`)
      }
      largest = Math.max(largest, number)
      out += sqlLiteral(params[number - 1])
      i += 1 + digits.length
      continue
    }
    out += sql.slice(i, end)
    i = end
  }
  return out
}

/** One statement's result in `wrangler d1 execute --json` output. */
interface D1CommandResult {
  results: Record<string, unknown>[]
  success: boolean
  meta: Record<string, unknown>
}

/**
 * The results of `wrangler d1 execute --json`, or the error it reported. wrangler prints a JSON
 * array of per-statement results, or `{"error": {"text": ...}}` with a non-zero exit.
 */
export function parseD1Output(output: WranglerOutput): D1CommandResult[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(output.stdout)
  } catch {
    parsed = undefined
  }
  if (output.code !== 0 || !Array.isArray(parsed)) {
    const text =
      typeof parsed === 'object' && parsed !== null && 'error' in parsed
        ? (parsed as { error?: { text?: unknown } }).error?.text
        : undefined
    const detail =
      typeof text === 'string'
        ? text
        : lastLines(output.stderr || output.stdout) || `exit code ${output.code}, no output`
    throw new WranglerError(`wrangler d1 execute failed: ${detail}`)
  }
  return parsed as D1CommandResult[]
}

function lastLines(text: string, count = 8): string {
  return text.trim().split('\n').slice(-count).join('\n')
}

/** A prepared statement whose SQL is rendered with its values when it runs. */
class WranglerStatement {
  constructor(
    private readonly db: WranglerD1,
    readonly sql: string,
    readonly params: readonly unknown[] = [],
  ) {}

  bind(...values: unknown[]): WranglerStatement {
    return new WranglerStatement(this.db, this.sql, values)
  }

  /** The SQL with its values inlined (see {@link renderSql}). */
  render(): string {
    return renderSql(this.sql, this.params)
  }

  async all<T = Record<string, unknown>>(): Promise<D1Result<T>> {
    const [result] = await this.db.execute([this])
    return result as D1Result<T>
  }

  async run<T = Record<string, unknown>>(): Promise<D1Result<T>> {
    return this.all<T>()
  }

  async first<T = Record<string, unknown>>(column?: string): Promise<T | null> {
    const { results } = await this.all<Record<string, unknown>>()
    const row = results[0]
    if (row === undefined) return null
    return (column === undefined ? row : (row[column] ?? null)) as T | null
  }
}

/**
 * The part of `D1Database` the repositories use (`prepare`, `bind`, `first`, `all`, `run`,
 * `batch`), over `wrangler d1 execute`. Each call is one wrangler process; a batch is one call.
 */
export class WranglerD1 {
  constructor(
    private readonly run: WranglerRunner,
    private readonly target: WranglerTarget,
    private readonly binding = 'DB',
  ) {}

  prepare(sql: string): WranglerStatement {
    return new WranglerStatement(this, sql)
  }

  async batch<T = Record<string, unknown>>(
    statements: WranglerStatement[],
  ): Promise<D1Result<T>[]> {
    return (await this.execute(statements)) as D1Result<T>[]
  }

  /** Runs the statements in one wrangler call; one result per statement. */
  async execute(statements: readonly WranglerStatement[]): Promise<D1Result[]> {
    if (statements.length === 0) return []
    const sql = statements.map((statement) => statement.render().replace(/[\s;]+$/, '')).join(';\n')
    const results = parseD1Output(await this.run(d1ExecuteArgs(this.target, this.binding, sql)))
    if (results.length !== statements.length) {
      throw new WranglerError(
        `wrangler d1 execute answered ${results.length} results for ${statements.length} statements`,
      )
    }
    return results.map((result) => ({
      results: result.results ?? [],
      success: true as const,
      meta: result.meta as unknown as D1Meta & Record<string, unknown>,
    }))
  }

  /** This adapter as the `D1Database` the repositories take (they use only the methods above). */
  asD1(): D1Database {
    return this as unknown as D1Database
  }
}

/** What `wrangler kv key get` prints on stdout, with exit code 0, for a missing key. */
export const KV_VALUE_NOT_FOUND = 'Value not found\n'

/**
 * The part of `KVNamespace` the session store uses (`get` as text, `put` with `expirationTtl`,
 * `delete`), over `wrangler kv key`.
 */
export class WranglerKV {
  constructor(
    private readonly run: WranglerRunner,
    private readonly target: WranglerTarget,
    private readonly binding = 'SESSIONS',
  ) {}

  /**
   * The value as text, or null when the key is missing. wrangler reports a missing key by
   * printing `Value not found` with a zero exit, so a value that is exactly that text reads as
   * missing; session records are JSON objects and never are.
   */
  async get(key: string): Promise<string | null> {
    const output = await this.checked(kvKeyArgs(this.target, this.binding, 'get', key))
    return output.stdout === KV_VALUE_NOT_FOUND ? null : output.stdout
  }

  /** Writes the value through a private temporary file: it never appears in a process list. */
  async put(key: string, value: string, options: { expirationTtl?: number } = {}): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), 'sessiongate-kv-'))
    try {
      const path = join(dir, 'value')
      await writeFile(path, value, { mode: 0o600 })
      await this.checked(
        kvKeyArgs(this.target, this.binding, 'put', key, { path, ttl: options.expirationTtl }),
      )
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }

  async delete(key: string): Promise<void> {
    await this.checked(kvKeyArgs(this.target, this.binding, 'delete', key))
  }

  /** This adapter as the `KVNamespace` the session store takes (it uses only the methods above). */
  asKV(): KVNamespace {
    return this as unknown as KVNamespace
  }

  private async checked(args: string[]): Promise<WranglerOutput> {
    const output = await this.run(args)
    if (output.code !== 0) {
      throw new WranglerError(
        `wrangler kv key ${args[2]} failed: ${lastLines(output.stderr || output.stdout)}`,
      )
    }
    return output
  }
}
