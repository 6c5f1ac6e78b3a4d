/** The one failure vocabulary: every client error maps to a FailureType constant with the right retryability. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { createActivities } from '../../../src/activities';
import { refuse, toActivityFailure, withFailureTranslation } from '../../../src/activities/failures';
import { FailureType } from '../../../src/failure-types';
import { PortainerError } from '../../../src/portainer/errors';
import { ProxmoxError } from '../../../src/proxmox/errors';
import { QdrantError } from '../../../src/qdrant/errors';
import { remoteError } from '../../../src/remote/errors';
import { SecretUnavailableError, resolveSecret } from '../../../src/secrets';

const classify = (err: unknown, context?: string) => toActivityFailure(err, context) as ApplicationFailure;

describe('toActivityFailure', () => {
  it.each([
    [FailureType.ProxmoxAuth, true, new ProxmoxError('401', { kind: 'auth' })],
    [FailureType.ProxmoxLocked, false, new ProxmoxError('locked', { kind: 'locked' })],
    [FailureType.ProxmoxTransient, false, new ProxmoxError('5xx', { kind: 'transient' })],
    [FailureType.RemoteHostKey, true, remoteError('host-key', 'root@pve:22', 'unknown key')],
    [FailureType.RemoteConnect, false, remoteError('connect', 'root@pve:22', 'refused')],
    [FailureType.QdrantUnreachable, false, new QdrantError('unreachable', 0, 'down')],
    [FailureType.QdrantNotReady, false, new QdrantError('not-ready', 503, 'loading')],
    [FailureType.QdrantNotFound, true, new QdrantError('not-found', 404, 'no collection')],
    [FailureType.QdrantAuth, true, new QdrantError('auth', 401, 'bad key')],
    [FailureType.QdrantHttp, false, new QdrantError('http', 502, 'bad gateway')],
    [FailureType.QdrantHttp, true, new QdrantError('http', 400, 'bad request')],
    [FailureType.PortainerAgentUnreachable, false, new PortainerError('agent-unreachable', 500, 'agent down')],
    [FailureType.PortainerAuth, true, new PortainerError('auth', 401, 'bad token')],
    [FailureType.PortainerConflict, true, new PortainerError('conflict', 409, 'taken')],
    [FailureType.PortainerTls, true, new PortainerError('tls', 0, 'pin')],
  ])('%s (nonRetryable: %s)', (type, nonRetryable, err) => {
    expect(classify(err)).toMatchObject({ type, nonRetryable });
  });

  it('a missing secret is one type whatever the secret (env var or file)', () => {
    const fromEnv = (() => {
      try {
        return resolveSecret({ env: 'PHX_TEST_SURELY_UNSET' }, {});
      } catch (e) {
        return e;
      }
    })();
    const fromFile = new SecretUnavailableError('Secret file /nope cannot be read');
    for (const err of [fromEnv, fromFile]) {
      expect(classify(err, 'Qdrant api key')).toMatchObject({
        type: FailureType.SecretUnavailable,
        nonRetryable: true,
      });
    }
    expect(classify(fromEnv, 'Qdrant api key').message).toMatch(/^Qdrant api key: .*PHX_TEST_SURELY_UNSET/);
  });

  it('keeps an ApplicationFailure (already classified) and unknown errors as they are', () => {
    const refused = refuse(FailureType.GuestProtected, 'protected', { ctid: 952 });
    expect(classify(refused, 'ignored context')).toBe(refused);
    expect(refused).toMatchObject({ type: FailureType.GuestProtected, nonRetryable: true, details: [{ ctid: 952 }] });
    const bug = new TypeError('x is undefined');
    expect(toActivityFailure(bug)).toBe(bug);
  });

  it('withFailureTranslation classifies whatever escapes an activity', async () => {
    const acts = withFailureTranslation({
      async probe(): Promise<void> {
        throw new QdrantError('auth', 403, 'forbidden');
      },
    });
    await expect(acts.probe()).rejects.toMatchObject({ type: FailureType.QdrantAuth, nonRetryable: true });
  });
});

describe('FailureType', () => {
  it('has unique values (two names for one type would split alerting and the workflow’s checks)', () => {
    const values = Object.values(FailureType);
    expect(new Set(values).size).toBe(values.length);
  });
});

describe('createActivities', () => {
  it('classifies every activity exactly once (each factory wraps; the safety net does not wrap again)', () => {
    const acts = createActivities({ env: {}, proxmoxFor: () => ({}) as never });
    const once = withFailureTranslation(acts);
    for (const [name, fn] of Object.entries(acts)) {
      expect(fn.name).toBe(name);
      expect(once[name as keyof typeof acts]).toBe(fn);
    }
  });
});

describe('source', () => {
  it('names failure types only through FailureType (no string literal of a type in src/)', () => {
    const values = new Set<string>(Object.values(FailureType));
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, entry.name);
        if (entry.isDirectory()) walk(p);
        else if (p.endsWith('.ts') && !p.endsWith('failure-types.ts')) {
          readFileSync(p, 'utf8')
            .split('\n')
            .forEach((line, i) => {
              // An error class's own name (`this.name = 'ProxmoxError'`) is not a failure type.
              if (/\bname\b/.test(line)) return;
              for (const m of line.matchAll(/'([A-Za-z:-]+)'/g))
                if (values.has(m[1])) offenders.push(`${p}:${i + 1}: ${line.trim()}`);
            });
        }
      }
    };
    walk(join(__dirname, '..', '..', '..', 'src'));
    expect(offenders).toEqual([]);
  });
});
