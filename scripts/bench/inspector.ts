/**
 * A small Chrome DevTools Protocol client for workerd's V8 inspector, enough to read the heap of
 * one Worker's isolate: `HeapProfiler.collectGarbage`, then `Runtime.getHeapUsage`.
 *
 * `ws` is the client because Node 20 has no WebSocket without a flag (Node 22 does).
 */
import { createRequire } from 'node:module'

/** The part of `ws` used here (it ships no types). */
interface WebSocketLike {
  on(event: 'open', listener: () => void): void
  on(event: 'error', listener: (error: Error) => void): void
  on(event: 'close', listener: () => void): void
  on(event: 'message', listener: (data: Buffer) => void): void
  send(text: string): void
  close(): void
}
type WebSocketClass = new (url: string) => WebSocketLike

const require = createRequire(import.meta.url)
const WebSocket = require('ws') as WebSocketClass

/** V8's heap figures for one isolate, in bytes. */
export interface HeapUsage {
  usedSize: number
  totalSize: number
}

interface Reply {
  id: number
  result?: Record<string, unknown>
  error?: { message: string }
}

export class Inspector {
  #nextId = 0
  readonly #pending = new Map<number, (reply: Reply) => void>()

  private constructor(private readonly socket: WebSocketLike) {
    socket.on('message', (data) => {
      const reply = JSON.parse(data.toString()) as Reply
      const resolve = this.#pending.get(reply.id)
      if (resolve) {
        this.#pending.delete(reply.id)
        resolve(reply)
      }
    })
    socket.on('close', () => {
      for (const resolve of this.#pending.values()) {
        resolve({ id: 0, error: { message: 'inspector connection closed' } })
      }
      this.#pending.clear()
    })
  }

  /**
   * Connects to the inspector target of the Worker `name` (workerd names it `core:user:<name>`)
   * on the inspector at `base` (`ws://127.0.0.1:PORT`, from `Miniflare.getInspectorURL()`).
   */
  static async connect(base: URL, name: string): Promise<Inspector> {
    const socket = new WebSocket(new URL(`/core:user:${name}`, base).href)
    await new Promise<void>((resolve, reject) => {
      socket.on('open', resolve)
      socket.on('error', reject)
    })
    return new Inspector(socket)
  }

  /** Sends one command and waits for its reply (or `timeoutMs`). */
  async send(
    method: string,
    params: Record<string, unknown> = {},
    timeoutMs = 10_000,
  ): Promise<Record<string, unknown>> {
    const id = ++this.#nextId
    const reply = await new Promise<Reply>((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        resolve({ id, error: { message: `${method}: no reply in ${timeoutMs} ms` } })
      }, timeoutMs)
      this.#pending.set(id, (value) => {
        clearTimeout(timer)
        resolve(value)
      })
      this.socket.send(JSON.stringify({ id, method, params }))
    })
    if (reply.error) throw new Error(`${method}: ${reply.error.message}`)
    return reply.result ?? {}
  }

  /**
   * Collects garbage, then reads the heap. workerd runs inspector commands on the isolate's
   * thread when it next has work, so `poke` (one cheap request to the Worker) is sent until
   * the collection is answered.
   */
  async heapAfterGc(poke: () => Promise<unknown>): Promise<HeapUsage> {
    await this.send('HeapProfiler.enable')
    const collected = this.send('HeapProfiler.collectGarbage')
    let done = false
    const finish = () => {
      done = true
    }
    collected.then(finish, finish)
    while (!done) {
      await poke().catch(() => {})
      await Promise.race([collected, new Promise((resolve) => setTimeout(resolve, 50))])
    }
    await collected
    const usage = await this.send('Runtime.getHeapUsage')
    return { usedSize: Number(usage.usedSize), totalSize: Number(usage.totalSize) }
  }

  close(): void {
    this.socket.close()
  }
}
