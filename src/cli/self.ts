/**
 * How the person runs this CLI again, so every command we print works as printed: `phoenix-migrate` when that name
 * on PATH is this installation (`npm install -g .` or `npm link`), `npx phoenix-migrate` inside the checkout, and
 * `node /abs/path/bin/phoenix-migrate.js` anywhere else.
 */
import fs from 'node:fs';
import path from 'node:path';

/** The package root: src/cli and lib/cli both sit two levels below it. */
export const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(PACKAGE_ROOT, 'bin', 'phoenix-migrate.js');

function realpath(p: string): string | undefined {
  try {
    return fs.realpathSync(p);
  } catch {
    return undefined;
  }
}

export function selfCommand(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  const bin = realpath(BIN);
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir && bin && realpath(path.join(dir, 'phoenix-migrate')) === bin) return 'phoenix-migrate';
  }
  const rel = path.relative(PACKAGE_ROOT, cwd);
  if (!rel.startsWith('..') && !path.isAbsolute(rel)) return 'npx phoenix-migrate';
  return `node ${BIN}`;
}

/** The version in package.json (read at run time: the CLI runs from src/ in tests and from lib/ when built). */
export function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}
