/**
 * Request bodies of the `/auth/*` endpoints: JSON or form, at most 16 KiB, parsed once per
 * request. Every failure is a 4xx with DRF's wording, never a 500.
 */
import type { Context } from 'hono'
import { ParseError, PayloadTooLarge, UnsupportedMediaType, ValidationError } from '../errors'
import { isObject } from '../utils/json'

/** Bodies over this are refused with 413 before they are read in full. */
const MAX_BODY_BYTES = 16 * 1024

const parsed = new WeakMap<Request, Promise<unknown>>()

/**
 * The parsed body: a JSON value, or a form as an object of strings (the last value of a
 * repeated field, as Django's `QueryDict.get`). An empty body is `{}`.
 */
export function readBody(c: Context): Promise<unknown> {
  let body = parsed.get(c.req.raw)
  if (!body) {
    body = parse(c.req.raw)
    parsed.set(c.req.raw, body)
  }
  return body
}

/** The body as a JSON object, or a 400 naming what came instead (DRF's wording). */
export async function readObject(c: Context): Promise<Record<string, unknown>> {
  const body = await readBody(c)
  if (!isObject(body)) {
    const kind = Array.isArray(body) ? 'list' : body === null ? 'null' : typeof body
    throw new ParseError(`Invalid data. Expected a dictionary, but got ${kind}.`)
  }
  return body as Record<string, unknown>
}

/** A required string field, or a 400 with DRF's field message. */
export function requiredString(body: Record<string, unknown>, field: string): string {
  const value = body[field]
  if (value === undefined || value === null) fieldError(field, 'This field is required.')
  if (typeof value !== 'string') fieldError(field, 'Not a valid string.')
  if (value === '') fieldError(field, 'This field may not be blank.')
  return value
}

/** Throws a 400 for one field, as `{"detail": "<field>: <message>", "errors": {...}}`. */
export function fieldError(field: string, message: string): never {
  throw new ValidationError(`${field}: ${message}`, { [field]: [message] })
}

/** The media type of a Content-Type header, lower-cased, without parameters. */
function mediaType(header: string | null): string {
  return (header ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
}

async function parse(request: Request): Promise<unknown> {
  const bytes = await readLimited(request)
  const type = mediaType(request.headers.get('Content-Type'))
  if (bytes.length === 0 && (type === '' || isJson(type) || isForm(type))) return {}
  if (isJson(type)) return parseJson(bytes)
  if (type === 'application/x-www-form-urlencoded') {
    return Object.fromEntries(new URLSearchParams(decodeUtf8(bytes, 'Form parse error')))
  }
  if (type === 'multipart/form-data') return parseMultipart(request, bytes)
  throw new UnsupportedMediaType(type === '' ? 'none' : type)
}

function isJson(type: string): boolean {
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'))
}

function isForm(type: string): boolean {
  return type === 'application/x-www-form-urlencoded' || type === 'multipart/form-data'
}

/** Whether a request's body is a form (urlencoded or multipart), by its Content-Type. */
export function isFormRequest(request: Request): boolean {
  return isForm(mediaType(request.headers.get('Content-Type')))
}

/**
 * An oversized body is still read to its end, and dropped, up to this many bytes: cancelling a
 * request body half-way can leave the connection it came on (behind `wrangler dev`'s proxy, say)
 * unable to carry the next request. Past it the stream is cancelled: reading on would only be
 * a way to make the Worker spend its time.
 */
const MAX_DISCARD_BYTES = 1024 * 1024

/** Reads at most MAX_BODY_BYTES; a larger body is a 413, a broken one a 400. */
async function readLimited(request: Request): Promise<Uint8Array> {
  if (!request.body) return new Uint8Array()
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > MAX_BODY_BYTES) {
        await discard(reader, size)
        throw new PayloadTooLarge(MAX_BODY_BYTES)
      }
      chunks.push(value)
    }
  } catch (error) {
    if (error instanceof PayloadTooLarge) throw error
    // The client stopped sending (a body cut short): nothing to parse, and nothing to answer
    // with a 500.
    throw new ParseError('Malformed request - the body was cut short.')
  }
  const out = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}

/** Reads the rest of an oversized body and drops it (see MAX_DISCARD_BYTES). */
async function discard(reader: ReadableStreamDefaultReader<Uint8Array>, read: number) {
  let size = read
  try {
    while (size <= MAX_DISCARD_BYTES) {
      const { done, value } = await reader.read()
      if (done) return
      size += value.byteLength
    }
    await reader.cancel()
  } catch {
    // A broken stream has nothing left to drain.
  }
}

function decodeUtf8(bytes: Uint8Array, what: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes)
  } catch {
    throw new ParseError(`${what} - the body is not valid UTF-8.`)
  }
}

function parseJson(bytes: Uint8Array): unknown {
  const text = decodeUtf8(bytes, 'JSON parse error')
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new ParseError(`JSON parse error - ${(error as Error).message}`)
  }
}

async function parseMultipart(
  request: Request,
  bytes: Uint8Array,
): Promise<Record<string, string>> {
  let form: FormData
  try {
    form = await new Response(bytes, {
      headers: { 'Content-Type': request.headers.get('Content-Type') ?? '' },
    }).formData()
  } catch {
    throw new ParseError('Multipart form parse error - the body is not valid multipart/form-data.')
  }
  const fields: Record<string, string> = {}
  for (const [name, value] of form) if (typeof value === 'string') fields[name] = value
  return fields
}
