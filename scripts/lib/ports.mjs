import { createServer } from 'node:net'

/** A loopback port nothing listens on right now (the kernel picks it; we release it at once). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}
