/** Types for ports.mjs (plain JavaScript so that `node scripts/dev.mjs` needs no build). */

/** A loopback port nothing listens on right now (the kernel picks it; it is released at once). */
export function freePort(): Promise<number>
