/**
 * Storage counters for the benchmark: KV and D1 bindings wrapped so that every operation the
 * Worker issues is counted, then passed to the real binding unchanged. Bench-only: this module is
 * bundled into `scripts/bench/entry.ts`, never into the deployed Worker.
 */

/** Counts since the last reset, as `GET /__bench/counters` returns them. */
export interface StorageCounts {
  /** Requests that reached the real Worker. */
  started: number
  /** Requests whose response the real Worker returned (an aborted request never gets here). */
  completed: number
  /** KV `get`/`getWithMetadata` keys read (a bulk get counts each key). */
  kvReads: number
  /** KV `put`s. */
  kvPuts: number
  /** KV `delete`s. */
  kvDeletes: number
  /** KV `list`s. */
  kvLists: number
  /** D1 statements run (each statement of a batch counts). */
  d1Queries: number
  /** D1 round trips: one per `first`/`all`/`run`/`raw`, one per `batch`, one per `exec`. */
  d1Calls: number
  /** D1 statements run, by the start of their SQL (whitespace folded), to tell which ones. */
  sql: Record<string, number>
  /**
   * Milliseconds spent waiting on KV and on D1, summed over operations (concurrent ones add up).
   * workerd's clock only moves across I/O, which is exactly what these spans are.
   */
  kvWaitMs: number
  d1WaitMs: number
}

/** Counts over the isolate's life, never reset: they show the Worker's per-isolate caching. */
export interface LifetimeCounts {
  /** Distinct `env` objects workerd handed to the entry (1: the same bindings every time). */
  envObjects: number
  /** Reads of `env.SECRET_KEY`, which only `loadConfig` makes: 1 means the app was built once. */
  configLoads: number
}

export function emptyCounts(): StorageCounts {
  return {
    started: 0,
    completed: 0,
    kvReads: 0,
    kvPuts: 0,
    kvDeletes: 0,
    kvLists: 0,
    d1Queries: 0,
    d1Calls: 0,
    sql: {},
    kvWaitMs: 0,
    d1WaitMs: 0,
  }
}

/** Long enough to tell the project's statements apart, short enough to read in a table. */
const SQL_LABEL_LENGTH = 60

function countSql(counts: StorageCounts, sql: string): void {
  const label = sql.replace(/\s+/g, ' ').trim().slice(0, SQL_LABEL_LENGTH)
  counts.d1Queries++
  counts.sql[label] = (counts.sql[label] ?? 0) + 1
}

/**
 * Adds the time until `operation` settles to `field` of the counts current when it started (so
 * an operation that straddles a reset is not charged to the next run), and returns it.
 */
function timed<T>(
  counts: () => StorageCounts,
  field: 'kvWaitMs' | 'd1WaitMs',
  operation: Promise<T>,
): Promise<T> {
  const tally = counts()
  const started = Date.now()
  const stop = () => {
    tally[field] += Date.now() - started
  }
  operation.then(stop, stop)
  return operation
}

/** Calls `method` on `target` with the arguments given, leaving out trailing `undefined`s. */
function call(target: object, method: (...args: never[]) => unknown, args: unknown[]): unknown {
  while (args.length > 0 && args[args.length - 1] === undefined) args.pop()
  return Reflect.apply(method, target, args)
}

/** A KV namespace that counts, then delegates every call to `kv`. */
export function countingKv(kv: KVNamespace, counts: () => StorageCounts): KVNamespace {
  const kvCall = (method: (...args: never[]) => unknown, args: unknown[]) =>
    timed(counts, 'kvWaitMs', call(kv, method, args) as Promise<unknown>)
  const wrapped = {
    get(key: string | string[], options?: unknown) {
      counts().kvReads += Array.isArray(key) ? key.length : 1
      return kvCall(kv.get, [key, options])
    },
    getWithMetadata(key: string | string[], options?: unknown) {
      counts().kvReads += Array.isArray(key) ? key.length : 1
      return kvCall(kv.getWithMetadata, [key, options])
    },
    put(key: string, value: unknown, options?: KVNamespacePutOptions) {
      counts().kvPuts++
      return kvCall(kv.put, [key, value, options])
    },
    delete(key: string) {
      counts().kvDeletes++
      return kvCall(kv.delete, [key])
    },
    list(options?: KVNamespaceListOptions) {
      counts().kvLists++
      return kvCall(kv.list, [options])
    },
  }
  return wrapped as unknown as KVNamespace
}

/**
 * A D1 prepared statement that counts when it runs. The real statement stays reachable through
 * `real`, because `batch` must be handed the binding's own statements.
 */
class CountingStatement {
  constructor(
    readonly real: D1PreparedStatement,
    readonly sqlText: string,
    private readonly counts: () => StorageCounts,
  ) {}

  bind(...values: unknown[]): CountingStatement {
    return new CountingStatement(this.real.bind(...values), this.sqlText, this.counts)
  }

  #count(): void {
    countSql(this.counts(), this.sqlText)
    this.counts().d1Calls++
  }

  first(column?: string) {
    this.#count()
    return timed(
      this.counts,
      'd1WaitMs',
      call(this.real, this.real.first, [column]) as Promise<unknown>,
    )
  }

  all() {
    this.#count()
    return timed(this.counts, 'd1WaitMs', this.real.all())
  }

  run() {
    this.#count()
    return timed(this.counts, 'd1WaitMs', this.real.run())
  }

  raw(options?: { columnNames?: boolean }) {
    this.#count()
    return timed(
      this.counts,
      'd1WaitMs',
      call(this.real, this.real.raw, [options]) as Promise<unknown>,
    )
  }
}

function unwrap(statement: unknown): D1PreparedStatement {
  return statement instanceof CountingStatement
    ? statement.real
    : (statement as D1PreparedStatement)
}

/** A D1 database (or D1 session) that counts, then delegates every call to `db`. */
export function countingD1(
  db: D1Database | D1DatabaseSession,
  counts: () => StorageCounts,
): D1Database {
  const wrapped = {
    prepare(sql: string) {
      return new CountingStatement(db.prepare(sql), sql, counts)
    },
    batch(statements: unknown[]) {
      const current = counts()
      current.d1Calls++
      for (const statement of statements) {
        countSql(current, statement instanceof CountingStatement ? statement.sqlText : '(batch)')
      }
      return timed(counts, 'd1WaitMs', db.batch(statements.map(unwrap)))
    },
    exec(sql: string) {
      const current = counts()
      current.d1Calls++
      countSql(current, sql)
      return timed(counts, 'd1WaitMs', (db as D1Database).exec(sql))
    },
    withSession(constraint?: string) {
      return countingD1((db as D1Database).withSession(constraint as never), counts)
    },
    getBookmark() {
      return (db as D1DatabaseSession).getBookmark()
    },
    dump() {
      return (db as D1Database).dump()
    },
  }
  return wrapped as unknown as D1Database
}
