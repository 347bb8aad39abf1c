/**
 * The Worker's password hashers, in Node: the same module over the same argon2 WebAssembly build,
 * so a hash the CLI writes is exactly what the Worker would write.
 */
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { createHashers, type Hashers } from '../../src/accounts/hashers'

/**
 * Node's `WebAssembly.compile`. The Workers types that src/ is checked with leave it out (Workers
 * refuse to compile code at run time), so it is typed here.
 */
const { compile } = WebAssembly as unknown as {
  compile(bytes: BufferSource): Promise<WebAssembly.Module>
}

/**
 * The hashers over `@phi-ag/argon2`'s WebAssembly, the file wrangler bundles into the Worker,
 * compiled here at run time.
 */
export async function loadHashers(): Promise<Hashers> {
  const require = createRequire(import.meta.url)
  const wasm = await readFile(require.resolve('@phi-ag/argon2/argon2.wasm'))
  return createHashers(await compile(wasm))
}
