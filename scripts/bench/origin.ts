/**
 * Starts and stops the bench origin (origin-server.mjs) as a child process of its own.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

export interface Origin {
  /** `http://127.0.0.1:PORT/` */
  url: URL
  close(): Promise<void>
}

const SERVER = fileURLToPath(new URL('./origin-server.mjs', import.meta.url))

/** Starts the origin and waits until it listens. */
export async function startOrigin(): Promise<Origin> {
  const child = spawn(process.execPath, [SERVER], { stdio: ['pipe', 'pipe', 'inherit'] })
  const exited = once(child, 'exit')
  const port = await new Promise<number>((resolve, reject) => {
    let text = ''
    child.stdout.on('data', (chunk) => {
      text += chunk
      const line = text.split('\n')[0]
      if (text.includes('\n') && line) resolve((JSON.parse(line) as { port: number }).port)
    })
    child.on('error', reject)
    child.on('exit', (code) => reject(new Error(`the bench origin exited (${code})`)))
  })
  return {
    url: new URL(`http://127.0.0.1:${port}/`),
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return
      // Closing stdin is the origin's signal to stop (see origin-server.mjs).
      child.stdin.end()
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000)
      await exited
      clearTimeout(timer)
    },
  }
}
