/**
 * A real local mail relay for the e-mail tests, started in Node by vitest's globalSetup (the
 * tests run in workerd and cannot listen): what EMAIL_BACKEND=http posts to. It keeps every
 * message it accepts, with the Authorization header it came with.
 *
 * Routes: `POST /messages` keeps a message (answers 202); `POST /fail` answers 500 (a relay
 * that is down); `GET /messages?to=ADDRESS` lists what was sent to an address, oldest first.
 */
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    /** The relay, `http://127.0.0.1:PORT`. */
    mailRelayUrl: string
  }
}

/** A message as the relay keeps it. */
export interface RelayedMessage {
  from: string
  to: string
  subject: string
  text: string
  html: string
  authorization: string | null
}

async function readAll(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

export default async function setup(project: TestProject) {
  const inbox = new Map<string, RelayedMessage[]>()
  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://relay.test')
    if (request.method === 'POST' && url.pathname === '/fail') {
      await readAll(request)
      response.writeHead(500).end('relay down')
      return
    }
    if (request.method === 'POST' && url.pathname === '/messages') {
      const message = JSON.parse(await readAll(request)) as RelayedMessage
      message.authorization = request.headers.authorization ?? null
      const key = message.to.toLowerCase()
      inbox.set(key, [...(inbox.get(key) ?? []), message])
      response.writeHead(202).end()
      return
    }
    if (request.method === 'GET' && url.pathname === '/messages') {
      const to = (url.searchParams.get('to') ?? '').toLowerCase()
      response.writeHead(200, { 'Content-Type': 'application/json' })
      response.end(JSON.stringify(inbox.get(to) ?? []))
      return
    }
    response.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  project.provide('mailRelayUrl', `http://127.0.0.1:${port}`)
  return () => new Promise<void>((resolve) => server.close(() => resolve()))
}
