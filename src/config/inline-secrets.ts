/**
 * Refuses secrets written into a plan. A plan is committed, printed, hashed and sent to Temporal as workflow input,
 * so a secret in it would leak everywhere: secrets are referenced as {"env": NAME} or {"file": PATH} instead.
 * Messages never echo the offending value.
 */
import type { PathPart } from './problems';
import { ProblemList, jsonPath } from './problems';

/** Key names that hold secrets. */
const SECRET_KEY = /(secret|password|passphrase|token|api[-_]?key|private[-_]?key)/i;
/** …unless the key only names where the secret lives, or identifies without authenticating. */
const REFERENCE_KEY = /(Env|File|Path|Id)$/;
/** A Proxmox API token secret looks like a UUID. */
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

const HOW =
  'reference it instead: {"env": "VAR_NAME"} (an environment variable on the worker) or {"file": "/abs/path"} (a file on the worker)';

/** Scans the raw plan JSON; returns the JSON paths it reported so schema errors at the same place are not repeated. */
export function findInlineSecrets(value: unknown, file: string, problems: ProblemList): Set<string> {
  const reported = new Set<string>();
  const report = (at: PathPart[], message: string, hint = HOW) => {
    const p = jsonPath(at);
    if (reported.has(p)) return;
    reported.add(p);
    problems.error(file, at, message, hint);
  };
  const walk = (node: unknown, at: PathPart[], key: string | undefined) => {
    if (typeof node === 'string') {
      // tokenId first: "USER@REALM!ID=<uuid>" is a token id with its secret pasted on, and the fix is specific.
      if (key === 'tokenId' && node.includes('=')) {
        report(
          at,
          'tokenId contains "=": the part after it is the token secret',
          'write only USER@REALM!TOKENID here, and put the secret in proxmox.tokenSecret as {"env": "VAR_NAME"}',
        );
      } else if (node.includes('-----BEGIN')) report(at, 'this looks like a PEM key or certificate written inline');
      else if (UUID.test(node)) report(at, 'this looks like a Proxmox API token secret (a UUID) written inline');
      else if (key !== undefined && SECRET_KEY.test(key) && !REFERENCE_KEY.test(key))
        report(at, `"${key}" holds a plain string, which would put a secret in the plan`);
      return;
    }
    if (Array.isArray(node)) {
      node.forEach((item, i) => walk(item, [...at, i], undefined));
      return;
    }
    if (typeof node === 'object' && node !== null) {
      for (const [k, v] of Object.entries(node)) walk(v, [...at, k], k);
    }
  };
  walk(value, [], undefined);
  return reported;
}
