/**
 * Runs the CLI in-process, as the operator would type it, and captures what it prints and its exit code.
 */
import { main } from '../../src/cli/main';
import type { CliIo } from '../../src/cli/io';

export interface CliResult {
  code: number;
  out: string;
  err: string;
  /** stdout and stderr together, in order. */
  all: string;
}

export async function cli(...args: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const all: string[] = [];
  const io: CliIo = {
    out: (t) => (out.push(t), all.push(t)),
    err: (t) => (err.push(t), all.push(t)),
  };
  const code = await main(['node', 'phoenix-migrate', ...args], io);
  return { code, out: out.join('\n'), err: err.join('\n'), all: all.join('\n') };
}

/** The shared test server's address (set by jest's global setup). */
export function testAddress(): string {
  const address = process.env.PHOENIX_TEST_TEMPORAL_ADDRESS;
  if (!address) throw new Error('PHOENIX_TEST_TEMPORAL_ADDRESS is not set: run the tests through jest (npm test)');
  return address;
}

/** A stack trace in CLI output: never acceptable, whatever the input. */
export const STACK_TRACE = /\n\s+at .+[(:]\d+|\bat Object\.<anonymous>|node:internal/;
