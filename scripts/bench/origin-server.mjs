/**
 * The benchmark's origin: a bare Node HTTP server on 127.0.0.1 that reads (and drops) the request
 * body and answers every request with the same small JSON. It verifies no assertion: the bench
 * measures the gateway, not an origin's JWT check.
 *
 * It runs as its own process, so it does not share an event loop with the load generator and
 * the gateway-vs-direct comparison is fair to both. It prints `{"port": N}` once listening, and
 * exits when its stdin closes, so it never outlives the bench, even one killed with SIGKILL.
 */
import { createServer } from 'node:http'

const body = Buffer.from(JSON.stringify({ items: [{ id: 1, name: 'one' }], next: null }))

const server = createServer((request, response) => {
  request.resume()
  request.on('end', () => {
    response.writeHead(200, {
      'Content-Type': 'application/json',
      'Content-Length': body.length,
    })
    response.end(body)
  })
})
// Longer than any scenario: keep-alive connections from the gateway and autocannon are reused.
server.keepAliveTimeout = 120_000

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`)
})

function stop() {
  server.close()
  server.closeAllConnections()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.stdin.on('end', stop)
process.stdin.resume()
