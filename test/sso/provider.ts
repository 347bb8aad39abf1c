/**
 * A scripted identity provider for the SSO tests, started in Node by vitest's globalSetup (the
 * tests run in workerd and cannot listen): OpenID Connect (discovery, JWKS, authorization and
 * token endpoints, PKCE checked, ID tokens signed with ES256) and a stand-in for GitHub (OAuth
 * 2.0 endpoints under `/gh`, its REST API under `/ghapi`), over real HTTP on loopback.
 *
 * The end-to-end suite (test/e2e/sso.mjs) signs in through a real provider, `oidc-provider`;
 * this one lets a test choose what the provider answers. The authorization endpoint takes, beside
 * the standard parameters, `as` (JSON: the claims of the user who signs in, `sub` included),
 * `mode` (`bad-signature`, `wrong-aud`, `wrong-iss`, `wrong-nonce`, `expired`, `no-id-token`)
 * and `error` (sent back as the provider's error). The private key is provided to the tests so
 * they can sign logout tokens as the provider would.
 */
import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose'
import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    /** The scripted provider's issuer, `http://127.0.0.1:PORT`. */
    ssoIssuer: string
    /** Its signing key (private JWK with `kid`), for logout tokens. */
    ssoPrivateJwk: JWK
  }
}

/** The client the tests register: the id and secret every test's SSO_PROVIDERS uses. */
const CLIENT_SECRET = 'test-client-secret'

interface Grant {
  claims: Record<string, unknown>
  clientId: string
  redirectUri: string
  challenge: string
  nonce: string | null
  mode: string
  github: boolean
}

async function readForm(request: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' })
  response.end(JSON.stringify(body))
}

function base64url(bytes: Buffer): string {
  return bytes.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
  const rogue = await generateKeyPair('ES256')
  const kid = 'test-key'
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'ES256' }
  const grants = new Map<string, Grant>()
  const tokens = new Map<string, Record<string, unknown>>()
  let issuer = ''

  async function idToken(grant: Grant): Promise<string> {
    const now = Math.floor(Date.now() / 1000)
    const { mode } = grant
    const claims = { ...grant.claims }
    if (grant.nonce !== null) claims.nonce = mode === 'wrong-nonce' ? 'another-nonce' : grant.nonce
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid })
      .setIssuer(mode === 'wrong-iss' ? 'https://elsewhere.example' : issuer)
      .setAudience(mode === 'wrong-aud' ? 'another-client' : grant.clientId)
      .setIssuedAt(mode === 'expired' ? now - 7200 : now)
      .setExpirationTime(mode === 'expired' ? now - 3600 : now + 300)
      .sign(mode === 'bad-signature' ? rogue.privateKey : privateKey)
  }

  /** The authorization endpoint: no login page, the test says who signs in. */
  function authorize(url: URL, response: ServerResponse, github: boolean): void {
    const redirect = new URL(url.searchParams.get('redirect_uri') ?? '')
    const state = url.searchParams.get('state')
    if (state) redirect.searchParams.set('state', state)
    const error = url.searchParams.get('error')
    if (error) {
      redirect.searchParams.set('error', error)
      redirect.searchParams.set('error_description', 'The user said no.')
    } else {
      const code = base64url(Buffer.from(crypto.getRandomValues(new Uint8Array(16))))
      grants.set(code, {
        claims: JSON.parse(url.searchParams.get('as') ?? '{}'),
        clientId: url.searchParams.get('client_id') ?? '',
        redirectUri: url.searchParams.get('redirect_uri') ?? '',
        challenge: url.searchParams.get('code_challenge') ?? '',
        nonce: url.searchParams.get('nonce'),
        mode: url.searchParams.get('mode') ?? '',
        github,
      })
      redirect.searchParams.set('code', code)
    }
    response.writeHead(302, { Location: redirect.href })
    response.end()
  }

  /** The token endpoint: the code once, for its client, redirect URI and PKCE verifier. */
  async function token(request: IncomingMessage, response: ServerResponse, github: boolean) {
    const form = await readForm(request)
    const basic = request.headers.authorization?.replace(/^Basic /, '')
    const [basicId, basicSecret] = basic
      ? Buffer.from(basic, 'base64').toString('utf8').split(':').map(decodeURIComponent)
      : []
    const clientId = basicId ?? form.get('client_id')
    const secret = basicSecret ?? form.get('client_secret')
    const code = form.get('code') ?? ''
    const grant = grants.get(code)
    grants.delete(code)
    const verifier = form.get('code_verifier') ?? ''
    const challenge = base64url(createHash('sha256').update(verifier).digest())
    if (
      !grant ||
      grant.github !== github ||
      grant.clientId !== clientId ||
      grant.redirectUri !== form.get('redirect_uri') ||
      grant.challenge !== challenge ||
      (secret != null && secret !== CLIENT_SECRET)
    ) {
      json(response, 400, { error: 'invalid_grant' })
      return
    }
    const accessToken = base64url(Buffer.from(crypto.getRandomValues(new Uint8Array(16))))
    tokens.set(accessToken, grant.claims)
    if (github) {
      json(response, 200, { access_token: accessToken, token_type: 'bearer', scope: 'user:email' })
      return
    }
    const body: Record<string, unknown> = {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: 300,
    }
    if (grant.mode !== 'no-id-token') body.id_token = await idToken(grant)
    json(response, 200, body)
  }

  /** GitHub's REST API: the user, their e-mails and organisations, as the claims said. */
  function githubApi(request: IncomingMessage, path: string, response: ServerResponse): void {
    const claims = tokens.get(request.headers.authorization?.replace(/^Bearer /, '') ?? '')
    if (!claims) json(response, 401, { message: 'Bad credentials' })
    else if (path === '/user') {
      json(response, 200, { id: claims.id, login: claims.login, name: claims.name ?? null })
    } else if (path === '/user/emails') json(response, 200, claims.emails ?? [])
    else if (path === '/user/orgs') {
      json(
        response,
        200,
        ((claims.orgs as string[]) ?? []).map((login) => ({ login })),
      )
    } else json(response, 404, { message: 'Not Found' })
  }

  async function handle(request: IncomingMessage, response: ServerResponse) {
    const url = new URL(request.url ?? '/', issuer)
    switch (url.pathname) {
      case '/.well-known/openid-configuration':
        return json(response, 200, {
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['ES256'],
          code_challenge_methods_supported: ['S256'],
          backchannel_logout_supported: true,
          backchannel_logout_session_supported: true,
        })
      case '/jwks':
        return json(response, 200, { keys: [publicJwk] })
      case '/authorize':
        return authorize(url, response, false)
      case '/token':
        return token(request, response, false)
      case '/gh/login/oauth/authorize':
        return authorize(url, response, true)
      case '/gh/login/oauth/access_token':
        return token(request, response, true)
    }
    if (url.pathname.startsWith('/ghapi/')) {
      return githubApi(request, url.pathname.slice('/ghapi'.length), response)
    }
    json(response, 404, { error: 'not_found' })
  }

  const server = createServer((request, response) => {
    handle(request, response).catch(() => response.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  project.provide('ssoIssuer', issuer)
  project.provide('ssoPrivateJwk', privateJwk)
  return () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
}
