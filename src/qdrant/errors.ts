/** Typed Qdrant failures. Callers classify by `kind` (never by class identity: jest and Temporal cross registries). */
export type QdrantErrorKind = 'unreachable' | 'not-ready' | 'not-found' | 'auth' | 'http';

export class QdrantError extends Error {
  readonly kind: QdrantErrorKind;
  /** HTTP status, or 0 when no response arrived. */
  readonly status: number;

  constructor(kind: QdrantErrorKind, status: number, message: string) {
    super(message);
    this.name = 'QdrantError';
    this.kind = kind;
    this.status = status;
  }
}

export function isQdrantError(e: unknown): e is QdrantError {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'QdrantError' && 'kind' in e;
}

/** Maps an HTTP status to a kind. 503 is Qdrant's "not ready" answer. */
export function kindForStatus(status: number): QdrantErrorKind {
  if (status === 401 || status === 403) return 'auth';
  if (status === 404) return 'not-found';
  if (status === 503) return 'not-ready';
  return 'http';
}
