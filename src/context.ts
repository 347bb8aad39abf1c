import type { AuthVariables } from './auth'
import type { CsrfVariables } from './csrf'
import type { Env } from './env'
import type { RequestVariables } from './request'
import type { SessionVariables } from './session'

/** Hono's environment for the whole app: the bindings and every middleware's variables. */
export type AppEnv = {
  Bindings: Env
  Variables: RequestVariables & SessionVariables & AuthVariables & CsrfVariables
}
