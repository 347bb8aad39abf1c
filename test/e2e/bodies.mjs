/**
 * Bodies that are too large or cut short, against the real `npm run dev` (wrangler's proxy in
 * front of workerd): each gets its 4xx, and the server answers the next request normally.
 */
import { connect } from 'node:net'
import { check, startStack } from './lib.mjs'

/** Writes `chunks` on a raw connection to `port`, then closes it and waits for the close. */
function rawRequest(port, chunks, holdMs = 300) {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', async () => {
      for (const chunk of chunks) socket.write(chunk)
      setTimeout(() => socket.end(), holdMs)
    })
    let answer = ''
    socket.on('data', (data) => {
      answer += data
    })
    socket.on('close', () => resolve(answer))
    socket.on('error', reject)
  })
}

async function healthy(base, after) {
  for (let i = 0; i < 3; i++) {
    const response = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(10_000) })
    check(response.status === 200, `after ${after}, /healthz is 200, got ${response.status}`)
  }
}

/** @param {import('./lib.mjs').Resources} resources */
export async function bodiesTest(resources) {
  const state = await resources.tempDir('bodies')
  const { base, port } = await startStack(resources, state)

  // About 100 KB, chunked (no Content-Length): 413, and the stream is drained, not cancelled.
  const big = 'a'.repeat(100_000)
  for (let i = 0; i < 3; i++) {
    const response = await fetch(`${base}/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: new ReadableStream({
        start(controller) {
          for (let offset = 0; offset < big.length; offset += 10_000) {
            controller.enqueue(new TextEncoder().encode(big.slice(offset, offset + 10_000)))
          }
          controller.close()
        },
      }),
      duplex: 'half',
      signal: AbortSignal.timeout(30_000),
    })
    check(response.status === 413, `a 100 KB chunked body is 413, got ${response.status}`)
    await healthy(base, 'a 100 KB chunked body')
  }

  // Declared longer than sent, then the client goes away; and a chunked body cut mid-chunk.
  await rawRequest(port, [
    'POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
      'Content-Length: 1000\r\n\r\n{"username"',
  ])
  await healthy(base, 'a body cut short')
  await rawRequest(port, [
    'POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
      'Transfer-Encoding: chunked\r\n\r\n10\r\n{"username":"aa',
  ])
  await healthy(base, 'a chunked body cut short')
}
