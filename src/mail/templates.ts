/**
 * The e-mails sessiongate sends, each as text and HTML: the password reset link (Django's
 * `registration/password_reset_email.html`), the verification link (allauth's
 * `email_confirmation_message`) and the notice to an address with no account (allauth's
 * `unknown_account`). Every value put into the HTML is escaped.
 */

/** A message before its sender is added. */
export interface LinkedMessage {
  to: string
  subject: string
  text: string
  html: string
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => ESCAPES[char] as string)
}

/** The site's name in messages: the host of the links' base (Django's `site_name`). */
function siteName(base: string): string {
  return new URL(base).host
}

/** Paragraphs as simple HTML: text escaped, a link where `{link}` stands. */
function htmlOf(subject: string, paragraphs: string[], link?: string): string {
  const body = paragraphs
    .map((paragraph) => {
      const text = escapeHtml(paragraph)
      if (!link || !paragraph.includes(link)) return `<p>${text}</p>`
      const href = escapeHtml(link)
      return `<p>${text.replace(href, `<a href="${href}">${href}</a>`)}</p>`
    })
    .join('\n')
  return (
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(subject)}</title>` +
    `</head><body>\n${body}\n</body></html>\n`
  )
}

function message(to: string, subject: string, paragraphs: string[], link?: string): LinkedMessage {
  return {
    to,
    subject,
    text: `${paragraphs.join('\n\n')}\n`,
    html: htmlOf(subject, paragraphs, link),
  }
}

/** The password reset e-mail to one user: the link, and their username. */
export function passwordResetMessage(
  user: { username: string; email: string },
  base: string,
  link: string,
): LinkedMessage {
  const site = siteName(base)
  return message(
    user.email,
    `Password reset on ${site}`,
    [
      `You're receiving this email because you requested a password reset for your user account at ${site}.`,
      `Please go to the following page and choose a new password:\n${link}`,
      `Your username, in case you've forgotten: ${user.username}`,
      'If you did not ask for this, you can ignore this e-mail: your password stays as it is.',
      `The ${site} team`,
    ],
    link,
  )
}

/** The verification e-mail: the page whose button confirms the address. */
export function verificationMessage(
  user: { username: string; email: string },
  base: string,
  link: string,
): LinkedMessage {
  const site = siteName(base)
  return message(
    user.email,
    `[${site}] Please confirm your e-mail address`,
    [
      `Hello from ${site}!`,
      `You're receiving this email because user ${user.username} has given your e-mail address to register an account on ${site}.`,
      `To confirm this is correct, go to ${link}`,
      'If you did not ask for this, you can ignore this e-mail.',
      `The ${site} team`,
    ],
    link,
  )
}

/**
 * The notice to an address no account matches (allauth's `unknown_account`). It is sent in place
 * of the real e-mail, so a request costs the same work and ends the same way (a failed send is a
 * 503 either way) whether or not the address belongs to someone.
 */
export function unknownAccountMessage(
  email: string,
  base: string,
  purpose: 'password-reset' | 'verification',
): LinkedMessage {
  const site = siteName(base)
  const asked =
    purpose === 'password-reset'
      ? `You're receiving this email because you, or someone else, asked for a password reset at ${site}. However, no account that can reset its password has the e-mail address ${email}.`
      : `You're receiving this email because you, or someone else, asked for a verification link at ${site}. However, no account waiting to verify the e-mail address ${email} exists.`
  return message(
    email,
    purpose === 'password-reset' ? `Password reset on ${site}` : `[${site}] E-mail verification`,
    [asked, 'If this was not you, you can ignore this e-mail.', `The ${site} team`],
  )
}
