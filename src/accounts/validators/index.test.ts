import { describe, expect, it } from 'vitest'
import { commonPasswords, decodeFrontCoded } from './common-passwords'
import data from './data/common-passwords.json'
import {
  commonPasswordError,
  MAX_PASSWORD_LENGTH,
  maximumLengthError,
  minimumLengthError,
  numericPasswordError,
  type PasswordUser,
  userAttributeSimilarityError,
  validatePassword,
} from './index'
import { pyIsDigit, pyLen, pySplitNonWord, pyStrip } from './python'

const TOO_SHORT = 'This password is too short. It must contain at least 8 characters.'
const TOO_COMMON = 'This password is too common.'
const NUMERIC = 'This password is entirely numeric.'

function user(fields: PasswordUser): PasswordUser {
  return { username: '', first_name: '', last_name: '', email: '', ...fields }
}

/**
 * What Django 4.2.28's `validate_password(password, user)` raises with the four default
 * validators (computed with Django itself, a `User(...)` built from the fields shown).
 */
const DJANGO: [string, PasswordUser | null, string[]][] = [
  [
    'ada.lovelace',
    {
      username: 'ada',
      email: 'ada.lovelace@example.com',
      first_name: 'Ada',
      last_name: 'Lovelace',
    },
    ['The password is too similar to the last name.'],
  ],
  [
    'lovelace1815',
    { username: 'countess', email: '', first_name: 'Ada', last_name: 'Lovelace' },
    ['The password is too similar to the last name.'],
  ],
  [
    'Charles-Babbage-77',
    { username: 'cbabbage', email: '', first_name: 'Charles', last_name: 'Babbage' },
    [],
  ],
  [
    'analytical1815',
    { username: 'countess', email: 'analytical@engine.org', first_name: '', last_name: '' },
    ['The password is too similar to the email address.'],
  ],
  [
    'emanresu',
    { username: 'username', email: '', first_name: '', last_name: '' },
    ['The password is too similar to the username.'],
  ],
  ['password', null, ['This password is too common.']],
  [
    '1234567',
    null,
    [
      'This password is too short. It must contain at least 8 characters.',
      'This password is too common.',
      'This password is entirely numeric.',
    ],
  ],
  ['12345678901', null, ['This password is too common.', 'This password is entirely numeric.']],
  ['٣٤٥٦٧٨٩٠١٢', null, ['This password is entirely numeric.']],
  ['²³¹²³¹²³¹', null, ['This password is entirely numeric.']],
  ['  PassWord  ', null, ['This password is too common.']],
  [
    'пароль',
    null,
    [
      'This password is too short. It must contain at least 8 characters.',
      'This password is too common.',
    ],
  ],
  [
    'qwerty',
    { username: 'qwerty', email: '', first_name: '', last_name: '' },
    [
      'The password is too similar to the username.',
      'This password is too short. It must contain at least 8 characters.',
      'This password is too common.',
    ],
  ],
  [
    'xk3#pL9!vQ2m',
    { username: 'grace', email: 'grace@navy.mil', first_name: 'Grace', last_name: 'Hopper' },
    [],
  ],
  ['😀😀😀😀😀😀😀', null, ['This password is too short. It must contain at least 8 characters.']],
  ['😀😀😀😀😀😀😀😀', null, []],
  [
    'grace-hopper-is-a-great-admiral',
    { username: 'gh', email: '', first_name: 'Grace', last_name: 'Hopper' },
    [],
  ],
  [
    'ab',
    { username: 'ab', email: '', first_name: '', last_name: '' },
    [
      'The password is too similar to the username.',
      'This password is too short. It must contain at least 8 characters.',
    ],
  ],
  [
    'hopperhopperhopperhopperhopper-x',
    { username: 'gh', email: '', first_name: 'Grace', last_name: 'Hopper' },
    [],
  ],
  ['navy1906', { username: 'g', email: 'grace@navy.mil', first_name: '', last_name: '' }, []],
  [
    'ΣΊΣΥΦΟΣ!!',
    { username: 'σίσυφος', email: '', first_name: '', last_name: '' },
    ['The password is too similar to the username.'],
  ],
  ['\u001cletmein\u001f', null, ['This password is too common.']],
  ['﻿letmein', null, []],
]

describe('validatePassword', () => {
  it.each(DJANGO)("gives Django's messages for %j", (password, owner, messages) => {
    expect(validatePassword(password, owner)).toEqual(messages)
  })

  it('accepts a long, unusual password with no messages', () => {
    expect(validatePassword('violet-kettle-orbit-42', user({ username: 'ada' }))).toEqual([])
  })

  it('gives every failing message at once, in Django order', () => {
    expect(validatePassword('1234', user({ username: '1234' }))).toEqual([
      'The password is too similar to the username.',
      TOO_SHORT,
      TOO_COMMON,
      NUMERIC,
    ])
  })

  it('judges the NFKC form that is stored: full-width "ｐａｓｓｗｏｒｄ" is too common', () => {
    expect(validatePassword('ｐａｓｓｗｏｒｄ')).toEqual([TOO_COMMON])
    expect(validatePassword('ﬁﬁﬁﬁ')).toEqual([])
  })

  it('refuses a password over 4,096 characters with a clear message', () => {
    expect(MAX_PASSWORD_LENGTH).toBe(4096)
    expect(validatePassword(`${'x'.repeat(4096)}y`)).toEqual([
      'This password is too long. It must contain at most 4096 characters.',
    ])
    expect(validatePassword(`${'xy7'.repeat(1365)}z`)).toEqual([])
  })

  it('counts the cap as login does (UTF-16 units), so an accepted password can log in', () => {
    expect(maximumLengthError('😀'.repeat(2048))).toBeNull()
    expect(maximumLengthError('😀'.repeat(2049))).not.toBeNull()
  })
})

describe('UserAttributeSimilarityValidator', () => {
  it('names each attribute by its verbose name', () => {
    expect(userAttributeSimilarityError('grace1906', user({ username: 'grace1906!' }))).toBe(
      'The password is too similar to the username.',
    )
    expect(userAttributeSimilarityError('hopperx', user({ first_name: 'Hopper' }))).toBe(
      'The password is too similar to the first name.',
    )
    expect(userAttributeSimilarityError('hopperx', user({ last_name: 'Hopper' }))).toBe(
      'The password is too similar to the last name.',
    )
    expect(userAttributeSimilarityError('hopperx', user({ email: 'hopper@navy.mil' }))).toBe(
      'The password is too similar to the email address.',
    )
  })

  it('compares an email address whole and in its \\W-separated parts, as Django', () => {
    const owner = user({ email: 'grace.hopper@navy.mil' })
    const similar = 'The password is too similar to the email address.'
    expect(userAttributeSimilarityError('hopper1', owner)).toBe(similar)
    expect(userAttributeSimilarityError('navy12', owner)).toBe(similar)
    expect(userAttributeSimilarityError('Grace.Hopper', owner)).toBe(similar)
    expect(userAttributeSimilarityError('Gr4ce.Hopper', owner)).toBeNull()
  })

  it('decides by quick_ratio() >= 0.7, as Django: an anagram of the username is too similar', () => {
    expect(userAttributeSimilarityError('emanresu', user({ username: 'username' }))).not.toBeNull()
    // quick_ratio('abcdefg', 'abcdefghijk') = 14/18 = 0.78; ('abcdefg', 'abcdefghijklmn') = 0.67.
    expect(
      userAttributeSimilarityError('abcdefg', user({ username: 'abcdefghijk' })),
    ).not.toBeNull()
    expect(userAttributeSimilarityError('abcdefg', user({ username: 'abcdefghijklmn' }))).toBeNull()
  })

  it('skips values a tenth of the password or shorter, as Django', () => {
    expect(userAttributeSimilarityError('a'.repeat(40), user({ username: 'aaaa' }))).toBeNull()
    expect(userAttributeSimilarityError('aaaa', user({ username: 'aaaa' }))).not.toBeNull()
  })

  it('is skipped without a user, and ignores empty attributes', () => {
    expect(userAttributeSimilarityError('anything', null)).toBeNull()
    expect(userAttributeSimilarityError('anything', user({}))).toBeNull()
  })
})

describe('MinimumLengthValidator', () => {
  it('refuses fewer than 8 characters with Django’s message, counting code points', () => {
    expect(minimumLengthError('abcdefg')).toBe(TOO_SHORT)
    expect(minimumLengthError('abcdefgh')).toBeNull()
    expect(minimumLengthError('😀'.repeat(7))).toBe(TOO_SHORT)
    expect(minimumLengthError('😀'.repeat(8))).toBeNull()
    expect(minimumLengthError('a', 1)).toBeNull()
    expect(minimumLengthError('', 1)).toBe(
      'This password is too short. It must contain at least 1 character.',
    )
  })
})

describe('CommonPasswordValidator', () => {
  it('refuses a listed password, lower-cased and stripped first', () => {
    for (const password of ['password', 'PASSWORD', ' Password\t', 'iloveyou', 'пароль']) {
      expect(commonPasswordError(password)).toBe(TOO_COMMON)
    }
    expect(commonPasswordError('violet-kettle-orbit-42')).toBeNull()
  })

  it("ships all of Django's list: 20,000 lines, 19,729 distinct", async () => {
    expect(data.lines).toBe(20_000)
    expect(commonPasswords().size).toBe(19_729)
    const sorted = [...commonPasswords()].sort().join('\n')
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(sorted))
    // sha256 of the distinct, sorted, newline-joined entries of Django 4.2's
    // common-passwords.txt.gz, as data/README.md computes it with Python.
    expect(Buffer.from(digest).toString('hex')).toBe(
      '073e21eb89d498c8146ba47282a0d08532dd5985ae8e0c4c15875ac999f59dd0',
    )
  })

  it('decodes the list once per isolate', () => {
    expect(commonPasswords()).toBe(commonPasswords())
  })

  it('decodes front-coded lines', () => {
    expect(decodeFrontCoded('0abc\n2d\n0x\n1yz')).toEqual(['abc', 'abd', 'x', 'xyz'])
  })
})

describe('NumericPasswordValidator', () => {
  it('refuses a password of digits only, as Python’s isdigit()', () => {
    expect(numericPasswordError('83749102')).toBe(NUMERIC)
    expect(numericPasswordError('٣٤٥٦٧٨٩٠')).toBe(NUMERIC)
    expect(numericPasswordError('²³¹²³¹²³')).toBe(NUMERIC)
    expect(numericPasswordError('8374910x')).toBeNull()
    expect(numericPasswordError('½½½½½½½½')).toBeNull()
    expect(numericPasswordError('')).toBeNull()
  })
})

describe("Python's str semantics", () => {
  it('splits on \\W+ as re.split, keeping empty ends', () => {
    expect(pySplitNonWord('.grace.hopper@navy.mil.')).toEqual([
      '',
      'grace',
      'hopper',
      'navy',
      'mil',
      '',
    ])
    expect(pySplitNonWord('jean_luc-o’neil2')).toEqual(['jean_luc', 'o', 'neil2'])
    expect(pySplitNonWord('müller.łukasz')).toEqual(['müller', 'łukasz'])
  })

  it('strips Python whitespace, not JavaScript’s', () => {
    expect(pyStrip('\u001c letmein\u3000\u001f')).toBe('letmein')
    expect(pyStrip('\ufeffletmein')).toBe('\ufeffletmein')
  })

  it('counts code points and knows digits beyond ASCII', () => {
    expect(pyLen('a😀b')).toBe(3)
    expect(pyIsDigit('①②③')).toBe(true)
    expect(pyIsDigit('Ⅻ')).toBe(false)
  })
})
