/**
 * `npm run user -- <command>`: the command line, its help, and the exit codes (0 done, 1 refused,
 * 2 bad usage). Messages go to stderr and data to stdout, so `list` can be piped.
 */
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type ParseArgsConfig, parseArgs } from 'node:util'
import { openBindings } from './bindings'
import * as commands from './commands'
import { CliError, EXIT_ERROR, EXIT_OK, EXIT_USAGE, UsageError } from './errors'
import { PromptAborted } from './terminal'
import { WranglerError } from './wrangler'

type Options = NonNullable<ParseArgsConfig['options']>
type Values = Record<string, string | boolean | undefined>

/** One command: its help and what it runs. */
interface Command {
  /** The arguments after the command name, for the usage line. */
  usage: string
  summary: string
  /** Extra help paragraphs. */
  details?: string
  /** Names of the positional arguments, all required. */
  positionals: string[]
  /** Names of optional positional arguments after those. */
  optional?: string[]
  options: Options
  /** Lines describing `options`, for the help. */
  optionHelp?: string[]
  run(context: commands.CommandContext, args: string[], values: Values): Promise<void>
}

/** The directory holding wrangler.toml and migrations/: the CLI works from anywhere. */
const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url))

/**
 * Where relative paths are meant from: `npm run` starts scripts in the package root, and keeps
 * the directory it was called from in INIT_CWD.
 */
function callerDirectory(): string {
  return process.env.INIT_CWD ?? process.cwd()
}

const GLOBAL_OPTIONS: Options = {
  remote: { type: 'boolean' },
  'persist-to': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
}

const GLOBAL_HELP = [
  '--remote          the deployed D1 and KV, through wrangler (`wrangler login` or',
  '                  CLOUDFLARE_API_TOKEN); default: the local ones `npm run dev` uses',
  '--persist-to DIR  local state in DIR/v3, as `wrangler dev --persist-to DIR`',
  '                  (default: $PERSIST_TO as for `npm run dev`, else .wrangler/state)',
  '-h, --help        this help',
]

const PASSWORD_HELP =
  'The password is read from stdin (its first line) when stdin is not a terminal, and is then\n' +
  "refused if Django's password validators object; in a terminal it is asked for twice, without\n" +
  'echo, and a validator objection can be bypassed after a question.'

function parseLimit(value: string | undefined): number {
  if (value === undefined) return 50
  const limit = Number(value)
  if (!/^\d+$/.test(value) || limit < 1 || limit > 10_000) {
    throw new UsageError(`--limit takes a whole number from 1 to 10000, not '${value}'`, 'events')
  }
  return limit
}

/** `--name` of `token create`: what the token is for, as the API takes it. */
function tokenName(value: string | undefined): string {
  const name = (value ?? 'cli').trim()
  if (name === '' || name.length > 100) {
    throw new UsageError('--name takes 1 to 100 characters', 'token')
  }
  return name
}

/** `--expires-in` of `token create`: whole seconds, as the API's `expires_in`; none: never. */
function expiresIn(value: string | undefined): number | null {
  if (value === undefined) return null
  const seconds = Number(value)
  if (!/^\d+$/.test(value) || seconds < 1 || seconds > 315_360_000) {
    throw new UsageError(
      `--expires-in takes whole seconds from 1 to 315360000, not '${value}'`,
      'token',
    )
  }
  return seconds
}

function parseSwitch(value: string, command: string): boolean {
  if (value === 'on') return true
  if (value === 'off') return false
  throw new UsageError(`expected 'on' or 'off', not '${value}'`, command)
}

/** `staff` and `superuser`: one flag set on or off, and the live sessions re-signed. */
function roleCommand(flag: 'is_staff' | 'is_superuser', name: string, note?: string): Command {
  const details = [
    'Live sessions are re-signed with SECRET_KEY (and SECRET_KEY_FALLBACKS) from the',
    'environment, else, locally, from .dev.vars; without one they are ended instead.',
    ...(note ? [note] : []),
  ]
  return {
    usage: '<username> on|off',
    summary: `set ${flag}; live sessions see the change at once`,
    details: details.join('\n'),
    positionals: ['username', 'on|off'],
    options: {},
    run: (context, [username, state]) =>
      commands.setRole(context, username as string, flag, parseSwitch(state as string, name)),
  }
}

const COMMANDS: Record<string, Command> = {
  create: {
    usage: '<username> [--email E] [--staff] [--superuser] [more options]',
    summary: "create a user (Django's createsuperuser with --superuser)",
    details: `${PASSWORD_HELP}\n--superuser implies --staff, as in Django.`,
    positionals: ['username'],
    options: {
      email: { type: 'string' },
      'first-name': { type: 'string' },
      'last-name': { type: 'string' },
      staff: { type: 'boolean' },
      superuser: { type: 'boolean' },
      'no-validate': { type: 'boolean' },
    },
    optionHelp: [
      '--email E         email address',
      '--first-name F    first name',
      '--last-name L     last name',
      '--staff           is_staff (may use STAFF_PATHS)',
      '--superuser       is_superuser and is_staff',
      "--no-validate     skip Django's password validators",
    ],
    run: (context, [username], values) =>
      commands.createUser(context, username as string, {
        email: values.email as string | undefined,
        firstName: values['first-name'] as string | undefined,
        lastName: values['last-name'] as string | undefined,
        staff: values.staff === true,
        superuser: values.superuser === true,
        validate: values['no-validate'] !== true,
      }),
  },
  passwd: {
    usage: '<username> [--no-validate]',
    summary: "set a user's password (Django's changepassword); ends their sessions",
    details: PASSWORD_HELP,
    positionals: ['username'],
    options: { 'no-validate': { type: 'boolean' } },
    optionHelp: ["--no-validate     skip Django's password validators"],
    run: (context, [username], values) =>
      commands.changePassword(context, username as string, values['no-validate'] !== true),
  },
  deactivate: {
    usage: '<username>',
    summary: 'set is_active off (no more logins); ends all their sessions',
    positionals: ['username'],
    options: {},
    run: (context, [username]) => commands.deactivateUser(context, username as string),
  },
  activate: {
    usage: '<username>',
    summary: 'set is_active on',
    positionals: ['username'],
    options: {},
    run: (context, [username]) => commands.activateUser(context, username as string),
  },
  'verify-email': {
    usage: '<username>',
    summary: 'mark the e-mail verified (as a verification link does)',
    positionals: ['username'],
    options: {},
    run: (context, [username]) => commands.verifyEmail(context, username as string),
  },
  staff: roleCommand('is_staff', 'staff'),
  superuser: roleCommand(
    'is_superuser',
    'superuser',
    'Unlike `create --superuser`, this does not change is_staff.',
  ),
  group: {
    usage: '<username> add|remove <group>',
    summary: 'add a user to a group (created on first use) or remove them from it',
    details: [
      'Live sessions are re-signed with SECRET_KEY (and SECRET_KEY_FALLBACKS) from the',
      'environment, else, locally, from .dev.vars; without one they are ended instead. Routes',
      'with "groups" (ROUTES) see the change on the next request.',
    ].join('\n'),
    positionals: ['username', 'add|remove', 'group'],
    options: {},
    run: (context, [username, action, group]) => {
      if (action !== 'add' && action !== 'remove') {
        throw new UsageError(`expected 'add' or 'remove', not '${action}'`, 'group')
      }
      return commands.setGroup(context, username as string, action, group as string)
    },
  },
  delete: {
    usage: '<username> [--yes]',
    summary: 'delete a user and end all their sessions',
    details: 'In a terminal it asks for confirmation first, unless --yes is given.',
    positionals: ['username'],
    options: { yes: { type: 'boolean', short: 'y' } },
    optionHelp: ['-y, --yes         do not ask for confirmation'],
    run: (context, [username], values) =>
      commands.deleteUser(context, username as string, values.yes === true),
  },
  'end-sessions': {
    usage: '<username>',
    summary: "end all of a user's sessions",
    details:
      'For changes made by hand in SQL, which bypass the revocation that the API and this CLI\n' +
      'do: the user must log in again everywhere.',
    positionals: ['username'],
    options: {},
    run: (context, [username]) => commands.endSessions(context, username as string),
  },
  unlock: {
    usage: '<username>',
    summary: "clear a user's failed-login throttle (as django-axes' reset)",
    details:
      'Forgets the failed logins counted against the username from every network, so the user\n' +
      'can sign in again before the window passes. Limits per network stay.',
    positionals: ['username'],
    options: {},
    run: (context, [username]) => commands.unlock(context, username as string),
  },
  'mfa-reset': {
    usage: '<username>',
    summary: 'remove every second factor of a user who lost them; ends all their sessions',
    details:
      'Removes the authenticator app (TOTP), the recovery codes and the passkeys: the password\n' +
      'alone signs in again, and the user can set up new factors.',
    positionals: ['username'],
    options: {},
    run: (context, [username]) => commands.mfaReset(context, username as string),
  },
  token: {
    usage: 'create|list|revoke <username> [<id>] [--name NAME] [--expires-in SECONDS] [--json]',
    summary: "make, list or revoke a user's API tokens (Authorization: Token <key>)",
    details: [
      '`create` prints the key, shown only then (only its SHA-256 is kept), on stdout; the',
      'record is sealed with SECRET_KEY from the environment, else, locally, from .dev.vars.',
      '`revoke <username> <id>` ends the token with that id (from `list`) at once.',
    ].join('\n'),
    positionals: ['create|list|revoke', 'username'],
    optional: ['id'],
    options: {
      name: { type: 'string' },
      'expires-in': { type: 'string' },
      json: { type: 'boolean' },
    },
    optionHelp: [
      '--name NAME       what the token is for (create; default "cli")',
      '--expires-in S    seconds until it stops working (create; default never)',
      '--json            JSON instead of the table or the bare key',
    ],
    run: (context, [action, username, id], values) => {
      const json = values.json === true
      if (action === 'create') {
        return commands.createToken(context, username as string, {
          name: tokenName(values.name as string | undefined),
          expiresIn: expiresIn(values['expires-in'] as string | undefined),
          json,
        })
      }
      if (action === 'list') return commands.listTokens(context, username as string, json)
      if (action === 'revoke') {
        if (id === undefined) throw new UsageError('revoke needs the token id', 'token')
        return commands.revokeToken(context, username as string, id)
      }
      throw new UsageError(`expected 'create', 'list' or 'revoke', not '${action}'`, 'token')
    },
  },
  events: {
    usage: '[<username>] [--limit N] [--json]',
    summary: 'show the audit log, newest first (all users, or one)',
    positionals: [],
    optional: ['username'],
    options: { limit: { type: 'string' }, json: { type: 'boolean' } },
    optionHelp: [
      '--limit N         at most N events (default 50)',
      '--json            a JSON array instead of the table',
    ],
    run: (context, [username], values) =>
      commands.listEvents(context, username ?? null, {
        limit: parseLimit(values.limit as string | undefined),
        json: values.json === true,
      }),
  },
  list: {
    usage: '[--json]',
    summary: 'list users with their number of live sessions and their groups',
    positionals: [],
    options: { json: { type: 'boolean' } },
    optionHelp: ['--json            a JSON array instead of the table'],
    run: (context, _args, values) => commands.listUsers(context, values.json === true),
  },
  import: {
    usage: '<file.json> [--update]',
    summary: "import users from Django's `manage.py dumpdata auth.user`",
    details:
      'Password hashes are kept as they are (Django pbkdf2, argon2 and scrypt hashes verify and\n' +
      "are upgraded at the next login) and each record's pk becomes its id. Invalid records are\n" +
      'reported and the others imported; users whose username exists are skipped, or with\n' +
      '--update overwritten (their sessions end). The exit status is 1 if any record was not\n' +
      'imported.',
    positionals: ['file.json'],
    options: { update: { type: 'boolean' } },
    optionHelp: ['--update          overwrite users whose username already exists'],
    run: async (context, [file], values) => {
      const path = resolve(callerDirectory(), file as string)
      let text: string
      try {
        text = await readFile(path, 'utf8')
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? String(error)
        throw new CliError(`Cannot read ${file}: ${code}`)
      }
      await commands.importDump(context, file as string, text, values.update === true)
    },
  },
}

/** The help of all commands. */
export function generalHelp(): string {
  const width = Math.max(
    ...Object.entries(COMMANDS).map(([name, c]) => `${name} ${c.usage}`.length),
  )
  const lines = Object.entries(COMMANDS).map(([name, command]) => {
    const usage = `${name} ${command.usage.replace(/ \[--.*$/, '')}`
    return `  ${usage.padEnd(Math.min(width, 28))}  ${command.summary}`
  })
  return [
    'Usage: npm run user -- <command> [arguments] [--remote | --persist-to DIR]',
    '',
    "sessiongate's users, as Django's createsuperuser and changepassword manage them.",
    '',
    'Commands:',
    ...lines,
    '',
    'Options of every command:',
    ...GLOBAL_HELP.map((line) => `  ${line}`),
    '',
    'Every change ends or rewrites the sessions it affects at once. `<command> --help` says more.',
    'Exit status: 0 done, 1 refused (bad input, unknown user, ...), 2 bad usage.',
    '',
  ].join('\n')
}

/** The help of one command. */
export function commandHelp(name: string): string {
  const command = COMMANDS[name] as Command
  return [
    `Usage: npm run user -- ${name} ${command.usage}`,
    '',
    `${command.summary[0]?.toUpperCase()}${command.summary.slice(1)}.`,
    ...(command.details ? ['', command.details] : []),
    '',
    'Options:',
    ...[...(command.optionHelp ?? []), ...GLOBAL_HELP].map((line) => `  ${line}`),
    '',
  ].join('\n')
}

/** The command name: the first argument that is neither an option nor a global option's value. */
function findCommand(argv: string[]): string | undefined {
  const { tokens } = parseArgs({
    args: argv,
    options: GLOBAL_OPTIONS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  })
  return tokens.find((token) => token.kind === 'positional')?.value
}

/** Runs the CLI on these arguments; returns the exit code. */
export async function main(argv: string[], io: commands.Io): Promise<number> {
  let commandName: string | null = null
  let context: commands.CommandContext | null = null
  try {
    const name = findCommand(argv)
    if (name === undefined || name === 'help') {
      const topic = name === 'help' ? argv[argv.indexOf('help') + 1] : undefined
      const wanted = name === 'help' || argv.includes('--help') || argv.includes('-h')
      if (!wanted) throw new UsageError('no command given')
      io.stdout.write(topic && topic in COMMANDS ? commandHelp(topic) : generalHelp())
      return EXIT_OK
    }
    const command = COMMANDS[name]
    if (!command || !Object.hasOwn(COMMANDS, name))
      throw new UsageError(`unknown command '${name}'`)
    commandName = name

    let values: Values
    let positionals: string[]
    try {
      const parsed = parseArgs({
        args: argv,
        options: { ...GLOBAL_OPTIONS, ...command.options },
        strict: true,
        allowPositionals: true,
      })
      // No option is declared `multiple`, so no value is an array.
      values = parsed.values as Values
      positionals = parsed.positionals
    } catch (error) {
      throw new UsageError((error as Error).message, name)
    }
    if (values.help) {
      io.stdout.write(commandHelp(name))
      return EXIT_OK
    }
    const args = positionals.slice(positionals.indexOf(name) + 1)
    const most = command.positionals.length + (command.optional?.length ?? 0)
    if (args.length < command.positionals.length || args.length > most) {
      const expected =
        [
          ...command.positionals.map((arg) => `<${arg}>`),
          ...(command.optional ?? []).map((arg) => `[<${arg}>]`),
        ].join(' ') || 'no arguments'
      throw new UsageError(`expected ${expected}, got ${args.length} argument(s)`, name)
    }
    const remote = values.remote === true
    const persistTo = values['persist-to'] as string | undefined
    if (remote && persistTo !== undefined) {
      throw new UsageError('--persist-to is for local state; it cannot go with --remote', name)
    }
    if (remote) {
      io.stderr.write(
        'Working on the deployed D1 and KV through wrangler (a few seconds a step).\n',
      )
    }
    // Without the flag, the state `npm run dev` uses: $PERSIST_TO (from the project root, where
    // npm runs it) when set.
    const fromEnv = remote || !process.env.PERSIST_TO ? undefined : process.env.PERSIST_TO
    const statePath =
      persistTo !== undefined
        ? resolve(callerDirectory(), persistTo)
        : fromEnv && resolve(PROJECT_ROOT, fromEnv)
    const targetFlags = remote ? ' --remote' : statePath ? ` --persist-to ${statePath}` : ''
    context = new commands.CommandContext(
      io,
      () => openBindings({ projectRoot: PROJECT_ROOT, remote, persistTo: statePath }),
      targetFlags,
    )
    await command.run(context, args, values)
    return EXIT_OK
  } catch (error) {
    return report(error, io, commandName, context?.targetFlags === ' --remote')
  } finally {
    await context?.close()
  }
}

/** Prints an error as the operator should see it and returns its exit code. */
function report(
  error: unknown,
  io: commands.Io,
  commandName: string | null,
  remote: boolean,
): number {
  if (error instanceof UsageError) {
    io.stderr.write(`Error: ${error.message}\n\n`)
    io.stderr.write(commandName ? commandHelp(commandName) : generalHelp())
    return EXIT_USAGE
  }
  if (error instanceof CliError) {
    io.stderr.write(`Error: ${error.message}\n`)
    return error.exitCode
  }
  if (error instanceof PromptAborted) {
    io.stderr.write(`${error.message}\n`)
    // 130: the shell's code for a command ended by Ctrl-C.
    return error.signal === 'interrupt' ? 130 : EXIT_ERROR
  }
  const message = error instanceof Error ? error.message : String(error)
  io.stderr.write(`Error: ${message}\n`)
  if (remote && /no such table/i.test(message)) {
    io.stderr.write(
      'The schema is missing or behind: apply the migrations with `npx wrangler d1 migrations apply DB --remote`.\n',
    )
  } else if (remote && error instanceof WranglerError) {
    io.stderr.write(
      '--remote works through wrangler: log in once with `npx wrangler login` (or set\n' +
        'CLOUDFLARE_API_TOKEN, and CLOUDFLARE_ACCOUNT_ID if the token sees several accounts), and\n' +
        'put the real D1 database_id and KV namespace id in wrangler.toml.\n',
    )
  }
  return EXIT_ERROR
}
