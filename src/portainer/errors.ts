/** Typed Portainer failures, carrying Portainer's own `{message, details}`. Classify by `kind`, not by class. */
export type PortainerErrorKind =
  /** No answer (refused, timeout, TLS pin mismatch). */
  | 'unreachable'
  /** The TLS certificate is not the one the plan trusts (pin mismatch, unknown CA). */
  | 'tls'
  /** 401/403/422 on login: bad or missing credentials. */
  | 'auth'
  | 'not-found'
  /** 409: a name is taken. */
  | 'conflict'
  /** 400: Portainer rejected the request's shape. */
  | 'invalid'
  /** 500 `Unable to get environment type`: Portainer could not reach the agent. */
  | 'agent-unreachable'
  | 'http';

export class PortainerError extends Error {
  readonly kind: PortainerErrorKind;
  readonly status: number;
  /** Portainer's `details` field (e.g. `Invalid environment name`), when it sent one. */
  readonly details: string;

  constructor(kind: PortainerErrorKind, status: number, message: string, details = '') {
    super(message);
    this.name = 'PortainerError';
    this.kind = kind;
    this.status = status;
    this.details = details;
  }
}

export function isPortainerError(e: unknown): e is PortainerError {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'PortainerError' && 'kind' in e;
}

export function kindForPortainerStatus(status: number, message: string): PortainerErrorKind {
  if (status === 401 || status === 403 || status === 422) return 'auth';
  if (status === 404) return 'not-found';
  if (status === 409) return 'conflict';
  if (status === 400) return 'invalid';
  if (status === 500 && /environment type/i.test(message)) return 'agent-unreachable';
  return 'http';
}
