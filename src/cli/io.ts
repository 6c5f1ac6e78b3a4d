/** Where a command writes. Commands return their exit code instead of calling process.exit, so tests can run them. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: CliIo = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
};

/** Exit codes, as documented in the README's table. */
export const ExitCode = {
  ok: 0,
  failed: 1,
  badInput: 2,
  waitingForPerson: 3,
  notFound: 4,
  conflict: 5,
  unavailable: 6,
} as const;

/** A failure the user can act on: one line, a hint, an exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly hint: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}
