/**
 * Passkeys (WebAuthn Level 3) through @simplewebauthn/server: the options a browser needs, and the
 * verification of what its authenticator answered (attestation at registration, assertion at
 * sign-in), for ES256 and RS256 credentials. The challenges live in the session, under keys that
 * start with `_` (never shown by `/auth/session`), for 300 seconds, and each is used at most once.
 */

import { decodeBase64urlIgnorePadding, encodeBase64urlNoPadding } from '@oslojs/encoding'
import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server'
import type { Session } from '../session'
import { isObject } from '../utils/json'
import type { PasskeyRow } from './repository'

/** COSE algorithms accepted: ES256 (-7) and RS256 (-257), what platform authenticators make. */
const ALGORITHMS = [-7, -257]
/** How long a challenge stays valid, and the browser's timeout for the ceremony. */
export const CHALLENGE_SECONDS = 300

/** The relying party a request speaks for. */
export interface RelyingParty {
  /** WEBAUTHN_RP_ID, or the request's hostname. */
  id: string
  /** What authenticators show as the site's name. */
  name: string
  /** The request's own origin, then WEBAUTHN_ORIGINS. */
  origins: string[]
}

/** Session keys of the two ceremonies' challenges. */
const REGISTER_KEY = '_passkey_register'
const LOGIN_KEY = '_passkey_login'

interface StoredChallenge {
  challenge: string
  /** When it stops being valid (ms). */
  expires: number
  /** Registration only: the user it was issued to. */
  user?: number
}

function remember(session: Session, key: string, challenge: StoredChallenge): void {
  session.set(key, challenge)
}

/** Takes a challenge out of the session (a challenge serves once), or null when none is live. */
function takeChallenge(session: Session, key: string, now: number): StoredChallenge | null {
  const stored = session.get(key)
  if (stored === undefined) return null
  session.delete(key)
  if (
    !isObject(stored) ||
    typeof stored.challenge !== 'string' ||
    typeof stored.expires !== 'number' ||
    stored.expires <= now
  ) {
    return null
  }
  return stored as unknown as StoredChallenge
}

/** The transports a stored passkey was registered with. */
function transportsOf(row: PasskeyRow): string[] {
  try {
    const parsed: unknown = JSON.parse(row.transports)
    return Array.isArray(parsed) ? parsed.filter((item) => typeof item === 'string') : []
  } catch {
    return []
  }
}

/**
 * Creation options for a new passkey of this user, whose challenge is kept in the session. The
 * user handle is the user's random WebAuthn handle, never the user id; the user's passkeys are
 * excluded, so an authenticator is not registered twice; a discoverable credential is required,
 * so the passkey can later sign in without a username.
 */
export async function registrationOptions(
  session: Session,
  rp: RelyingParty,
  user: { id: number; username: string; displayName: string; handle: string },
  existing: PasskeyRow[],
  now: number,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const options = await generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.id,
    userID: decodeBase64urlIgnorePadding(user.handle) as Uint8Array<ArrayBuffer>,
    userName: user.username,
    userDisplayName: user.displayName,
    timeout: CHALLENGE_SECONDS * 1000,
    attestationType: 'none',
    excludeCredentials: existing.map((row) => ({
      id: row.credential_id,
      transports: transportsOf(row),
    })),
    authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
    supportedAlgorithmIDs: ALGORITHMS,
  })
  remember(session, REGISTER_KEY, {
    challenge: options.challenge,
    expires: now + CHALLENGE_SECONDS * 1000,
    user: user.id,
  })
  return options
}

/** A verified new credential, ready to store. */
export interface NewCredential {
  credentialId: string
  publicKey: string
  signCount: number
  transports: string[]
}

/**
 * Verifies a registration (attestation `none`, or any format whose statement verifies) against
 * the challenge issued to this user in this session, the relying party and its origins. Null for
 * anything that does not verify, a malformed credential included: never a throw.
 */
export async function verifyRegistration(
  session: Session,
  rp: RelyingParty,
  userId: number,
  credential: unknown,
  now: number,
): Promise<NewCredential | null> {
  const stored = takeChallenge(session, REGISTER_KEY, now)
  if (!stored || stored.user !== userId || !isObject(credential)) return null
  try {
    const result = await verifyRegistrationResponse({
      response: credential as unknown as RegistrationResponseJSON,
      expectedChallenge: stored.challenge,
      expectedOrigin: rp.origins,
      expectedRPID: rp.id,
      requireUserVerification: false,
      supportedAlgorithmIDs: ALGORITHMS,
    })
    if (!result.verified) return null
    const { credential: made } = result.registrationInfo
    return {
      credentialId: made.id,
      publicKey: encodeBase64urlNoPadding(made.publicKey),
      signCount: made.counter,
      transports: made.transports ?? [],
    }
  } catch {
    return null
  }
}

/**
 * Request options for signing in with a passkey, whose challenge is kept in the session: any
 * discoverable credential of this site (`allow` empty), or only these (a pending second step).
 */
export async function authenticationOptions(
  session: Session,
  rp: RelyingParty,
  allow: PasskeyRow[],
  now: number,
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const options = await generateAuthenticationOptions({
    rpID: rp.id,
    timeout: CHALLENGE_SECONDS * 1000,
    userVerification: 'preferred',
    allowCredentials: allow.map((row) => ({
      id: row.credential_id,
      transports: transportsOf(row),
    })),
  })
  remember(session, LOGIN_KEY, {
    challenge: options.challenge,
    expires: now + CHALLENGE_SECONDS * 1000,
  })
  return options
}

/** The parts of an assertion read before it is verified: which credential, for which user. */
export interface AssertionClaim {
  credentialId: string
  /** The user handle the authenticator returned (discoverable credentials), if any. */
  userHandle: string | null
}

/** Which credential an assertion claims to be from, or null when it is not one. */
export function assertionClaim(credential: unknown): AssertionClaim | null {
  if (!isObject(credential) || typeof credential.id !== 'string' || credential.id === '') {
    return null
  }
  const response = credential.response
  const userHandle = isObject(response) && typeof response.userHandle === 'string'
  return {
    credentialId: credential.id,
    userHandle: userHandle ? (response as { userHandle: string }).userHandle : null,
  }
}

/** What a verified assertion says. */
export interface VerifiedAssertion {
  signCount: number
  userVerified: boolean
}

/**
 * Verifies an assertion by the stored passkey `row`, against the challenge issued in this session
 * (taken out of it, whatever the outcome), the relying party and its origins; with
 * `requireUserVerification`, the authenticator must have verified the user (a PIN, a biometric).
 * A signature counter that went backwards (a cloned authenticator) fails. Null for anything that
 * does not verify: never a throw.
 */
export async function verifyAssertion(
  session: Session,
  rp: RelyingParty,
  row: PasskeyRow,
  credential: unknown,
  requireUserVerification: boolean,
  now: number,
): Promise<VerifiedAssertion | null> {
  const stored = takeChallenge(session, LOGIN_KEY, now)
  if (!stored || !isObject(credential)) return null
  try {
    const result = await verifyAuthenticationResponse({
      response: credential as unknown as AuthenticationResponseJSON,
      expectedChallenge: stored.challenge,
      expectedOrigin: rp.origins,
      expectedRPID: rp.id,
      credential: {
        id: row.credential_id,
        publicKey: decodeBase64urlIgnorePadding(row.public_key) as Uint8Array<ArrayBuffer>,
        counter: row.sign_count,
      },
      requireUserVerification,
    })
    if (!result.verified) return null
    return {
      signCount: result.authenticationInfo.newCounter,
      userVerified: result.authenticationInfo.userVerified,
    }
  } catch {
    return null
  }
}

/** Forgets a pending sign-in challenge (a failed attempt that never reached verification). */
export function dropLoginChallenge(session: Session): void {
  session.delete(LOGIN_KEY)
}
