/**
 * The one place where a value becomes part of a shell command line.
 *
 * Every remote command is built as an argv array and joined here, so no config value (a path, an upstream
 * name, a server address) ever reaches a shell unquoted. POSIX single quotes make every byte literal; a single
 * quote itself is written as '\'' (close, escaped quote, reopen).
 */
export function shellQuote(argv: string[]): string {
  if (argv.length === 0) throw new Error('shellQuote: argv is empty; pass at least the command name');
  return argv.map(quoteOne).join(' ');
}

/** Words made only of these characters need no quotes (keeps logged commands readable). */
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

function quoteOne(word: string): string {
  if (word.includes('\0')) throw new Error('shellQuote: an argument contains a NUL byte, which no shell can pass');
  if (word !== '' && SAFE_WORD.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
