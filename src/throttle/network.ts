/**
 * The network a client IP counts against. One IPv6 subscriber usually holds a whole /64 (2^64
 * addresses), so counting single IPv6 addresses would let one client reset its count at will by
 * changing address; RFC 6177 and the usual rate limiters count the /64 instead. IPv4 addresses
 * count alone. Pure: no I/O.
 */

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/
const HEXTET = /^[0-9a-f]{1,4}$/

/** The 8 hextets of an IPv6 address, or null if it is not one. An embedded IPv4 tail is allowed. */
function ipv6Hextets(text: string): number[] | null {
  let address = text.toLowerCase().replace(/%.*$/, '')
  const lastColon = address.lastIndexOf(':')
  const tail = address.slice(lastColon + 1)
  if (lastColon >= 0 && tail.includes('.')) {
    // "::ffff:192.0.2.1" is "::ffff:c000:201".
    if (!IPV4.test(tail)) return null
    const [a, b, c, d] = tail.split('.').map(Number) as [number, number, number, number]
    address = `${address.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const halves = address.split('::')
  if (halves.length > 2) return null
  const parse = (part: string): number[] | null => {
    if (part === '') return []
    const groups = part.split(':')
    if (!groups.every((group) => HEXTET.test(group))) return null
    return groups.map((group) => Number.parseInt(group, 16))
  }
  const head = parse(halves[0] as string)
  const rest = halves.length === 2 ? parse(halves[1] as string) : []
  if (!head || !rest) return null
  const explicit = head.length + rest.length
  if (halves.length === 1) return explicit === 8 ? head : null
  // "::" stands for at least one group of zeros.
  if (explicit > 7) return null
  return [...head, ...new Array<number>(8 - explicit).fill(0), ...rest]
}

/** Whether `text` is an IPv4 or IPv6 address (an IPv6 zone suffix allowed). */
export function isIpAddress(text: string): boolean {
  return IPV4.test(text) || ipv6Hextets(text) !== null
}

/**
 * The key a client IP is counted under: an IPv4 address as it is (also when written as an
 * IPv4-mapped IPv6 address), an IPv6 address as its /64 (`2001:db8:0:1::/64`), and anything
 * else (a malformed header, `unknown` in local development) as itself, lower-cased.
 */
export function networkKey(ip: string): string {
  const text = ip.trim()
  if (IPV4.test(text)) return text
  const hextets = ipv6Hextets(text)
  if (!hextets) return text.toLowerCase()
  const [h0, h1, h2, h3, h4, h5, h6, h7] = hextets as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ]
  if (h0 === 0 && h1 === 0 && h2 === 0 && h3 === 0 && h4 === 0 && h5 === 0xffff) {
    return `${h6 >> 8}.${h6 & 0xff}.${h7 >> 8}.${h7 & 0xff}`
  }
  return `${[h0, h1, h2, h3].map((h) => h.toString(16)).join(':')}::/64`
}
