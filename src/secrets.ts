/**
 * Resolving a plan's `SecretRef` on the worker. The plan only names where a secret lives (an env var, a file); the
 * value is read when it is needed and never returned to workflow code, logged or put in a message. Only a person can
 * fix a missing secret, so the error is permanent (code SECRET_UNAVAILABLE).
 */
import { readFileSync } from 'node:fs';
import type { SecretRef } from './config/resolved-plan';

export class SecretUnavailableError extends Error {
  readonly code = 'SECRET_UNAVAILABLE' as const;
  readonly kind = 'secret-unavailable' as const;
  constructor(message: string) {
    super(message);
    this.name = 'SecretUnavailableError';
  }
}

/** Where the secret lives, for messages (never the value). */
export function describeSecretRef(ref: SecretRef): string {
  return 'env' in ref ? `environment variable ${ref.env}` : `file ${ref.file}`;
}

export function resolveSecret(ref: SecretRef, env: NodeJS.ProcessEnv = process.env): string {
  if ('env' in ref) {
    const value = env[ref.env];
    if (value === undefined || value.trim() === '') {
      throw new SecretUnavailableError(
        `Secret env var ${ref.env} is not set (or empty) on the worker; export it before starting the worker.`,
      );
    }
    return value.trim();
  }
  let text: string;
  try {
    text = readFileSync(ref.file, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'error';
    throw new SecretUnavailableError(
      `Secret file ${ref.file} cannot be read on the worker (${code}); create it or fix the path in the plan.`,
    );
  }
  const value = text.trim();
  if (value === '') throw new SecretUnavailableError(`Secret file ${ref.file} is empty; write the secret into it.`);
  return value;
}
