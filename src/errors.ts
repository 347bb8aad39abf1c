/**
 * Expected failures as classes with stable codes, and the one place that turns any error into a
 * DRF-style `{"detail": ...}` response. Anything that is not an `ApiError` is logged and becomes a
 * bare 500: no stack or message from an unexpected error ever reaches the client.
 */

/** An error with an HTTP status, a stable machine code and a client-safe `detail`. */
export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly headers: Record<string, string>
  /** Extra JSON fields beside `detail` (for example per-field validation messages). */
  readonly extra: Record<string, unknown>

  constructor(
    status: number,
    code: string,
    detail: string,
    options: { headers?: Record<string, string>; extra?: Record<string, unknown> } = {},
  ) {
    super(detail)
    this.name = new.target.name
    this.status = status
    this.code = code
    this.headers = options.headers ?? {}
    this.extra = options.extra ?? {}
  }
}

/** 400 for a body that cannot be parsed (DRF's ParseError). */
export class ParseError extends ApiError {
  constructor(detail = 'Malformed request.') {
    super(400, 'parse_error', detail)
  }
}

/** 400 for input that parses but is not acceptable; `fields` maps field names to messages. */
export class ValidationError extends ApiError {
  constructor(detail: string, fields: Record<string, string[]> = {}) {
    super(400, 'invalid', detail, Object.keys(fields).length ? { extra: { errors: fields } } : {})
  }
}

/**
 * Every 401 names the scheme that would authenticate (RFC 9110 requires `WWW-Authenticate`), as
 * DRF does once `TokenAuthentication` is on: `Token`.
 */
const CHALLENGE = { 'WWW-Authenticate': 'Token' }

/** 401: no credentials (DRF's NotAuthenticated). */
class NotAuthenticated extends ApiError {
  constructor(detail = 'Authentication credentials were not provided.') {
    super(401, 'not_authenticated', detail, { headers: CHALLENGE })
  }
}

/** 401 for an API token that is malformed, unknown, revoked or expired (DRF's message). */
export class InvalidToken extends ApiError {
  constructor() {
    super(401, 'authentication_failed', 'Invalid token.', { headers: CHALLENGE })
  }
}

/**
 * The 401 of every anonymous request to something that needs a user, built once: constructing one
 * per request was 16% of the anonymous path's CPU in the Worker (docs/performance.md). Frozen: it
 * is shared by every request.
 */
export const NOT_AUTHENTICATED: NotAuthenticated = Object.freeze(new NotAuthenticated())

/** 403 (DRF's PermissionDenied); also the CSRF failures. */
export class PermissionDenied extends ApiError {
  constructor(
    detail = 'You do not have permission to perform this action.',
    code = 'permission_denied',
  ) {
    super(403, code, detail)
  }
}

/** 404 (DRF's NotFound). */
export class NotFound extends ApiError {
  constructor(detail = 'Not found.') {
    super(404, 'not_found', detail)
  }
}

/** 405 with the `Allow` header RFC 9110 requires. */
export class MethodNotAllowed extends ApiError {
  constructor(method: string, allowed: readonly string[]) {
    super(405, 'method_not_allowed', `Method "${method}" not allowed.`, {
      headers: { Allow: allowed.join(', ') },
    })
  }
}

/** 413 for a body (or, with `what`, something else the client sent) over the limit. */
export class PayloadTooLarge extends ApiError {
  constructor(limit: number, what = 'Request body') {
    super(413, 'payload_too_large', `${what} exceeds ${limit} bytes.`)
  }
}

/** 415 (DRF's UnsupportedMediaType). */
export class UnsupportedMediaType extends ApiError {
  constructor(mediaType: string) {
    super(415, 'unsupported_media_type', `Unsupported media type "${mediaType}" in request.`)
  }
}

/** 429 with `Retry-After` (DRF's Throttled). */
export class Throttled extends ApiError {
  constructor(waitSeconds: number) {
    const wait = Math.max(1, Math.ceil(waitSeconds))
    super(429, 'throttled', `Request was throttled. Expected available in ${wait} seconds.`, {
      headers: { 'Retry-After': String(wait) },
    })
  }
}

/** 502: the origin could not be reached. */
export class BadGateway extends ApiError {
  constructor() {
    super(502, 'bad_gateway', 'Bad gateway.')
  }
}

/** 504: the origin did not answer in time. */
export class GatewayTimeout extends ApiError {
  constructor() {
    super(504, 'gateway_timeout', 'Gateway timeout.')
  }
}

/** 500 for a setting that is missing or invalid; the message names the setting. */
export class ImproperlyConfigured extends ApiError {
  constructor(setting: string, problem: string) {
    super(500, 'improperly_configured', `Improperly configured: ${setting} ${problem}`)
  }
}

/** Builds the `{"detail": ...}` JSON response for an `ApiError`, never cacheable. */
export function errorResponse(error: ApiError): Response {
  const headers = new Headers(error.headers)
  headers.set('Content-Type', 'application/json')
  headers.set('Cache-Control', 'no-store')
  return new Response(JSON.stringify({ detail: error.message, ...error.extra }), {
    status: error.status,
    headers,
  })
}

/**
 * Maps any thrown value to a response: `ApiError`s as they are, everything else logged and
 * answered with a generic 500 that reveals nothing.
 */
export function toErrorResponse(error: unknown): Response {
  if (error instanceof ApiError) return errorResponse(error)
  console.error('Unhandled error', error)
  return errorResponse(new ApiError(500, 'server_error', 'A server error occurred.'))
}

/**
 * 400 for a request path, or a forward-auth URI, that the gateway cannot read one way only
 * (src/gateway/paths.ts): refused before anything reaches the origin.
 */
export class BadRequestPath extends ApiError {
  constructor() {
    super(400, 'bad_request_path', 'Bad request path.')
  }
}
