/**
 * Decides when a session's `last_seen` is worth writing: at most once per interval per session,
 * remembered in a bounded in-isolate map, so steady-state requests write nothing. Each isolate
 * keeps its own memory, so the bound on writes is per isolate; a lost entry only costs one
 * early write.
 */
/** The least time between two `last_seen` writes for one session (per isolate): 5 minutes. */
export const LAST_SEEN_INTERVAL_MS = 5 * 60_000

export class LastSeen {
  readonly #recorded = new Map<string, number>()

  /**
   * @param intervalMs minimum time between two writes for one session. Default 5 minutes.
   * @param maxEntries sessions remembered at once; the oldest is forgotten first. Default 10,000
   *   (about 1 MB: far inside a Worker's 128 MB).
   */
  constructor(
    private readonly intervalMs = LAST_SEEN_INTERVAL_MS,
    private readonly maxEntries = 10_000,
  ) {}

  /** True (and remembered) when this session's activity should be written now. */
  shouldRecord(sessionId: string, now: number): boolean {
    const last = this.#recorded.get(sessionId)
    if (last !== undefined && now - last < this.intervalMs) return false
    if (last === undefined && this.#recorded.size >= this.maxEntries) {
      // Entries are kept in the order they were recorded, so the first is the oldest. When even
      // it is younger than the interval, every entry is still needed: skip this write rather
      // than evict one, or more live sessions than the map holds would write on every request.
      // last_seen is advisory; the skipped session is recorded once an entry ages out.
      const [oldestId, oldestAt] = this.#recorded.entries().next().value as [string, number]
      if (now - oldestAt < this.intervalMs) return false
      this.#recorded.delete(oldestId)
    }
    this.#recorded.delete(sessionId)
    this.#recorded.set(sessionId, now)
    return true
  }

  /** How many sessions are remembered (for tests of the bound). */
  get size(): number {
    return this.#recorded.size
  }
}
