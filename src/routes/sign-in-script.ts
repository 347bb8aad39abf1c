/**
 * The sign-in pages' one script, served as `/auth/sign-in.js` (their CSP allows scripts from this
 * origin only, none inline). It drives the passkey button: request options from
 * `/auth/passkeys/login/options`, ask the browser's authenticator (WebAuthn), send the assertion
 * to `/auth/passkeys/login`, then go to the page's safe `next`. Without WebAuthn the button stays
 * hidden. Plain ES2020, no build step: what is served is what is read here.
 */
export const SIGN_IN_SCRIPT = `'use strict'
;(() => {
  const button = document.getElementById('passkey')
  const alert = document.getElementById('passkey-error')
  if (!button || !alert || !window.PublicKeyCredential || !navigator.credentials) return
  button.hidden = false
  const csrf = document.querySelector('input[name="csrfmiddlewaretoken"]')
  const FAILED = 'Passkey sign-in failed.'

  const fromBase64url = (text) => {
    const base64 = text.replace(/-/g, '+').replace(/_/g, '/')
    const binary = atob(base64 + '==='.slice((base64.length + 3) % 4))
    return Uint8Array.from(binary, (char) => char.charCodeAt(0))
  }
  const toBase64url = (buffer) =>
    btoa(String.fromCharCode(...new Uint8Array(buffer)))
      .replace(/[+]/g, '-')
      .replace(/[/]/g, '_')
      .replace(/=+$/, '')

  const post = async (path, body) => {
    const response = await fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {
        Accept: 'application/json',
        'Content-Type': 'application/json',
        'X-CSRFToken': csrf ? csrf.value : '',
      },
      body: JSON.stringify(body),
    })
    const data = await response.json().catch(() => ({}))
    if (!response.ok) throw new Error(typeof data.detail === 'string' ? data.detail : FAILED)
    return data
  }

  button.addEventListener('click', async () => {
    alert.hidden = true
    button.disabled = true
    try {
      const options = await post('/auth/passkeys/login/options', {})
      const credential = await navigator.credentials.get({
        publicKey: {
          challenge: fromBase64url(options.challenge),
          rpId: options.rpId,
          timeout: options.timeout,
          userVerification: options.userVerification,
          allowCredentials: (options.allowCredentials || []).map((allowed) => ({
            type: allowed.type,
            id: fromBase64url(allowed.id),
            transports: allowed.transports,
          })),
        },
      })
      if (!credential) throw new Error(FAILED)
      const response = credential.response
      await post('/auth/passkeys/login', {
        credential: {
          id: credential.id,
          rawId: toBase64url(credential.rawId),
          type: credential.type,
          authenticatorAttachment: credential.authenticatorAttachment || undefined,
          clientExtensionResults: credential.getClientExtensionResults(),
          response: {
            clientDataJSON: toBase64url(response.clientDataJSON),
            authenticatorData: toBase64url(response.authenticatorData),
            signature: toBase64url(response.signature),
            userHandle: response.userHandle ? toBase64url(response.userHandle) : undefined,
          },
        },
      })
      window.location.assign(button.dataset.next || '/')
    } catch (error) {
      alert.textContent =
        error && error.name === 'NotAllowedError' ? 'The passkey request was cancelled.' : error.message || FAILED
      alert.setAttribute('role', 'alert')
      alert.hidden = false
      button.disabled = false
    }
  })
})()
`
