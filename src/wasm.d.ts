/** wrangler (and vitest-pool-workers) bundle `.wasm` imports as compiled modules. */
declare module '*.wasm' {
  const module: WebAssembly.Module
  export default module
}
