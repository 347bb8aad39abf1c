/**
 * Reading what the operator types: a password from a pipe, a password at a terminal without
 * echo (Django's `getpass`), and a yes/no question.
 */
import { createInterface } from 'node:readline/promises'

/** The operator pressed Ctrl-C or Ctrl-D at a prompt. */
export class PromptAborted extends Error {
  constructor(readonly signal: 'interrupt' | 'end') {
    super(signal === 'interrupt' ? 'Operation cancelled.' : 'No input.')
    this.name = 'PromptAborted'
  }
}

/**
 * The first line of a piped stdin, without its line ending (`\n` or `\r\n`), or null when stdin
 * ends before giving any character. Everything after the first line is ignored.
 */
export async function readFirstLine(input: NodeJS.ReadableStream): Promise<string | null> {
  input.setEncoding('utf8')
  let data = ''
  for await (const chunk of input) {
    data += chunk as string
    if (data.includes('\n')) break
  }
  if (data === '') return null
  const newline = data.indexOf('\n')
  const line = newline === -1 ? data : data.slice(0, newline)
  return line.endsWith('\r') ? line.slice(0, -1) : line
}

/** Whether a character is a C0 control or DEL (kept out of a typed password). */
function isControl(char: string): boolean {
  const code = char.codePointAt(0) ?? 0
  return code < 0x20 || code === 0x7f
}

/**
 * Asks for a secret at a terminal without echoing it (raw mode, as `getpass` does): Enter ends it,
 * Backspace erases a character, Ctrl-U the line, Ctrl-C cancels, Ctrl-D on an empty line ends
 * input. Arrow keys and other escape sequences are ignored rather than typed into the password.
 */
export async function promptHidden(
  prompt: string,
  input: NodeJS.ReadStream = process.stdin,
  output: NodeJS.WritableStream = process.stderr,
): Promise<string> {
  output.write(prompt)
  input.setRawMode(true)
  input.setEncoding('utf8')
  input.resume()
  return new Promise<string>((resolve, reject) => {
    let value = ''
    let inEscape = false
    const finish = (): void => {
      input.off('data', onData)
      input.setRawMode(false)
      input.pause()
      output.write('\n')
    }
    const onData = (chunk: string): void => {
      for (const char of chunk) {
        if (inEscape) {
          // CSI sequences (ESC [ ... final byte) end at a letter or `~`.
          if (/[A-Za-z~]/.test(char)) inEscape = false
          continue
        }
        if (char === '\r' || char === '\n') {
          finish()
          resolve(value)
          return
        }
        if (char === '\u0003') {
          finish()
          reject(new PromptAborted('interrupt'))
          return
        }
        if (char === '\u0004') {
          if (value === '') {
            finish()
            reject(new PromptAborted('end'))
            return
          }
          continue
        }
        if (char === '\u007f' || char === '\b') value = [...value].slice(0, -1).join('')
        else if (char === '\u0015') value = ''
        else if (char === '\u001b') inEscape = true
        else if (!isControl(char)) value += char
      }
    }
    input.on('data', onData)
  })
}

/** Asks a yes/no question at the terminal; only `y` or `yes` (any case) is yes. */
export async function confirm(
  question: string,
  input: NodeJS.ReadableStream = process.stdin,
  output: NodeJS.WritableStream = process.stderr,
): Promise<boolean> {
  const prompt = createInterface({ input, output, terminal: false })
  try {
    const answer = await prompt.question(question)
    return /^y(es)?$/i.test(answer.trim())
  } catch {
    return false
  } finally {
    prompt.close()
  }
}
