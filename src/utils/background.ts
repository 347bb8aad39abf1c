import type { Context } from 'hono'

/**
 * Runs work after the response is sent (`executionCtx.waitUntil`), so bookkeeping writes never
 * add latency. Where there is no execution context (a unit test calling `app.request` without
 * one), the work is awaited instead so that it is not lost.
 */
export async function inBackground(c: Context, work: Promise<unknown>): Promise<void> {
  let waitUntil: ((promise: Promise<unknown>) => void) | undefined
  try {
    const ctx = c.executionCtx
    waitUntil = (promise) => ctx.waitUntil(promise)
  } catch {
    waitUntil = undefined
  }
  if (waitUntil) waitUntil(work)
  else await work
}
