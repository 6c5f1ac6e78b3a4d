/**
 * Tests that need a real system tool (sshd, nginx, flock…) run for real in CI and may skip elsewhere —
 * but never silently: the reason is printed.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const KNOWN: Record<string, string> = { sshd: '/usr/sbin/sshd', nginx: '/usr/sbin/nginx' };

export function findTool(tool: string): string | undefined {
  const candidates = [
    KNOWN[tool],
    ...(process.env.PATH ?? '')
      .split(delimiter)
      .filter(Boolean)
      .map((d) => join(d, tool)),
  ];
  for (const c of candidates) {
    if (!c) continue;
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

/**
 * True when every tool is present. When one is missing: with CI=true this throws (a missing tool is a broken
 * CI image, not a reason to pass); elsewhere it prints why the tests skip and returns false.
 * Use: `const describeIf = requireOrSkip('sshd', 'nginx') ? describe : describe.skip;`
 */
export function requireOrSkip(...tools: string[]): boolean {
  const missing = tools.filter((t) => !findTool(t));
  if (missing.length === 0) return true;
  const msg = `missing ${missing.join(', ')} (install openssh-server / nginx / util-linux)`;
  if (process.env.CI === 'true') throw new Error(`CI=true and ${msg}: these integration tests must run in CI.`);
  console.warn(`skipping: ${msg}`);
  return false;
}
