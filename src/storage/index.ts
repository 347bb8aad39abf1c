/**
 * Storage faults: every exception from the KV or D1 binding becomes a 503
 * `{"detail": "Service temporarily unavailable."}` with `Retry-After`, never a 500 and never a
 * stack. The bindings are wrapped once, at the app's edge (`guardBindings`), so no module below
 * has to tell a storage outage from a bug. Idempotent reads are retried once first: KV and D1
 * both have brief blips that a second try rides out.
 *
 * D1's own verdicts on a statement (a UNIQUE or CHECK constraint) are not outages: they pass
 * through as they are, for the code that expects them.
 */
import { ApiError } from '../errors'

/** Seconds a client is asked to wait before trying again. */
const RETRY_AFTER_SECONDS = 5

/** 503 when KV or D1 fails. */
export class StorageUnavailable extends ApiError {
  constructor() {
    super(503, 'storage_unavailable', 'Service temporarily unavailable.', {
      headers: { 'Retry-After': String(RETRY_AFTER_SECONDS) },
    })
  }
}

/** Whether a D1 error is the database refusing a statement rather than failing to run it. */
function isConstraintError(error: unknown): boolean {
  return error instanceof Error && /SQLITE_CONSTRAINT|constraint failed/i.test(error.message)
}

async function guarded<T>(what: string, operation: () => Promise<T>, retry: boolean): Promise<T> {
  try {
    return await operation()
  } catch (error) {
    if (isConstraintError(error)) throw error
    if (retry) {
      try {
        return await operation()
      } catch (again) {
        if (isConstraintError(again)) throw again
        console.error(`${what} failed twice`, again)
        throw new StorageUnavailable()
      }
    }
    console.error(`${what} failed`, error)
    throw new StorageUnavailable()
  }
}

/** The statement a guarded one wraps, for `batch` (which takes the binding's own statements). */
const inner = new WeakMap<D1PreparedStatement, D1PreparedStatement>()

function guardStatement(statement: D1PreparedStatement, isRead: boolean): D1PreparedStatement {
  const wrapper = {
    bind: (...values: unknown[]) => guardStatement(statement.bind(...values), isRead),
    first: (column?: string) =>
      guarded(
        'D1 query',
        () => (column === undefined ? statement.first() : statement.first(column)),
        isRead,
      ),
    run: () => guarded('D1 statement', () => statement.run(), false),
    all: () => guarded('D1 query', () => statement.all(), isRead),
    raw: (options?: { columnNames?: boolean }) =>
      guarded('D1 query', () => statement.raw(options as { columnNames: true }), isRead),
  } as unknown as D1PreparedStatement
  inner.set(wrapper, statement)
  return wrapper
}

/** D1 with every failure of the binding answered as a 503 (see the module comment). */
function guardD1(db: D1Database): D1Database {
  return {
    prepare: (query: string) => guardStatement(db.prepare(query), /^\s*SELECT\b/i.test(query)),
    batch: (statements: D1PreparedStatement[]) =>
      guarded('D1 batch', () => db.batch(statements.map((s) => inner.get(s) ?? s)), false),
    exec: (query: string) => guarded('D1 exec', () => db.exec(query), false),
  } as unknown as D1Database
}

/** KV with every failure of the binding answered as a 503; reads are retried once. */
function guardKV(kv: KVNamespace): KVNamespace {
  return {
    get: (key: string, options?: unknown) =>
      guarded('KV get', () => kv.get(key, options as 'text'), true),
    getWithMetadata: (key: string, options?: unknown) =>
      guarded('KV get', () => kv.getWithMetadata(key, options as 'text'), true),
    put: (key: string, value: string, options?: KVNamespacePutOptions) =>
      guarded('KV put', () => kv.put(key, value, options), false),
    // A delete is idempotent: trying it twice is safe.
    delete: (key: string) => guarded('KV delete', () => kv.delete(key), true),
    list: (options?: KVNamespaceListOptions) => guarded('KV list', () => kv.list(options), true),
  } as unknown as KVNamespace
}

const guardedEnvs = new WeakMap<object, object>()

/**
 * `env` with its `SESSIONS` and `DB` bindings guarded, made once per `env` object (workerd hands
 * the same one to every request of an isolate).
 */
export function guardBindings<E extends { SESSIONS: KVNamespace; DB: D1Database }>(env: E): E {
  let guardedEnv = guardedEnvs.get(env) as E | undefined
  if (!guardedEnv) {
    // Layered over `env`, not copied: every other binding and setting reads through unchanged.
    guardedEnv = Object.create(env, {
      SESSIONS: { value: guardKV(env.SESSIONS), enumerable: true },
      DB: { value: guardD1(env.DB), enumerable: true },
    }) as E
    guardedEnvs.set(env, guardedEnv)
  }
  return guardedEnv
}
