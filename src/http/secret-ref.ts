/**
 * Resolving a plan's `SecretRef` on the worker. The plan only names where a secret lives; the value is read at the
 * moment it is needed and never returned, logged or put in a message.
 */
import { readFile } from 'node:fs/promises';
import type { SecretRef } from '../config/resolved-plan';

export interface SecretError extends Error {
  code: 'SECRET_MISSING';
}

function missing(message: string): SecretError {
  const err = new Error(message) as SecretError;
  err.code = 'SECRET_MISSING';
  err.name = 'SecretError';
  return err;
}

/** Where the secret lives, for messages (never the value). */
export function describeSecretRef(ref: SecretRef): string {
  return 'env' in ref ? `environment variable ${ref.env}` : `file ${ref.file}`;
}

/** Reads the secret; trailing newlines from files are dropped. Throws `SECRET_MISSING` naming the variable/file. */
export async function resolveSecretRef(ref: SecretRef, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if ('env' in ref) {
    const value = env[ref.env];
    if (value === undefined || value === '') {
      throw missing(`Secret environment variable ${ref.env} is not set on the worker; export it before starting the worker`);
    }
    return value;
  }
  let text: string;
  try {
    text = await readFile(ref.file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw missing(`Secret file ${ref.file} cannot be read on the worker (${code}); create it or fix the path in the plan`);
  }
  const value = text.replace(/[\r\n]+$/, '');
  if (value === '') throw missing(`Secret file ${ref.file} is empty; put the secret in it`);
  return value;
}
