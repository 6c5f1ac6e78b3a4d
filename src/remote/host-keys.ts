/**
 * Host-key trust: a `SHA256:` fingerprint pinned in the plan, or a known_hosts file on the worker.
 * Unknown and changed keys are both refused: this tool edits the gateway's config and writes files on the
 * hypervisor, so it must never talk to a machine nobody vouched for.
 */
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { SshHostKeyTrust } from '../config/resolved-plan';

/** `SHA256:<base64 without padding>` of a raw public-key blob, as `ssh-keygen -lf` prints it. */
export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

export type HostKeyVerdict =
  { ok: true } | { ok: false; reason: 'unknown' | 'changed' | 'revoked' | 'no-trust' | 'unreadable'; detail: string };

export function checkHostKey(trust: SshHostKeyTrust, host: string, port: number, keyBlob: Buffer): HostKeyVerdict {
  const seen = fingerprintOf(keyBlob);
  if (trust.fingerprint) {
    const pinned = normalizeFingerprint(trust.fingerprint);
    if (pinned === seen) return { ok: true };
    return { ok: false, reason: 'changed', detail: `the plan pins ${pinned}` };
  }
  if (trust.knownHostsFile) {
    let text: string;
    try {
      text = readFileSync(trust.knownHostsFile, 'utf8');
    } catch (e) {
      return {
        ok: false,
        reason: 'unreadable',
        detail: `cannot read known_hosts file ${trust.knownHostsFile}: ${(e as Error).message}`,
      };
    }
    return checkKnownHosts(text, trust.knownHostsFile, host, port, keyBlob);
  }
  return {
    ok: false,
    reason: 'no-trust',
    detail: 'the plan gives neither hostKey.fingerprint nor hostKey.knownHostsFile',
  };
}

function normalizeFingerprint(fp: string): string {
  const trimmed = fp.trim();
  const body = trimmed.startsWith('SHA256:') ? trimmed.slice(7) : trimmed;
  return `SHA256:${body.replace(/=+$/, '')}`;
}

function checkKnownHosts(text: string, file: string, host: string, port: number, keyBlob: Buffer): HostKeyVerdict {
  const name = port === 22 ? host : `[${host}]:${port}`;
  let hostListed = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: string | undefined;
    if (fields[0].startsWith('@')) marker = fields.shift();
    if (fields.length < 3 || marker === '@cert-authority') continue;
    const [patterns, , b64] = fields;
    if (!hostMatches(patterns, name)) continue;
    const same = Buffer.from(b64, 'base64').equals(keyBlob);
    if (marker === '@revoked') {
      if (same) return { ok: false, reason: 'revoked', detail: `${file} marks this key @revoked` };
      continue;
    }
    hostListed = true;
    if (same) return { ok: true };
  }
  return hostListed
    ? { ok: false, reason: 'changed', detail: `${file} lists a different key for ${name}` }
    : { ok: false, reason: 'unknown', detail: `${file} has no entry for ${name}` };
}

function hostMatches(patternList: string, name: string): boolean {
  if (patternList.startsWith('|1|')) {
    const [, , salt, hash] = patternList.split('|');
    const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return mac === hash;
  }
  let matched = false;
  for (const pattern of patternList.split(',')) {
    const negated = pattern.startsWith('!');
    const body = negated ? pattern.slice(1) : pattern;
    if (wildcard(body, name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

function wildcard(pattern: string, name: string): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|\\[\]]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    'i',
  );
  return re.test(name);
}
