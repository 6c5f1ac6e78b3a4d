/**
 * Portainer: checking the manual deploy (manual mode) and doing the deploy (api mode).
 *
 * api mode ensures, in order: the agent environment for the new VM (reusing one with the same agent URL), the
 * standalone compose stack (same content = no-op; different = update only when the plan allows it), and a running
 * container. Every step first looks, then acts, so a retry after a lost response finds the work done.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Dispatcher } from 'undici';
import type { PortainerSettings, SecretRef, TlsTrust } from '../config/resolved-plan';
import { FailureType } from '../failure-types';
import { resolveSecret } from '../secrets';
import { dispatcherFor } from '../http/tls';
import {
  PortainerClient,
  type PortainerAuth,
  type PortainerClientOptions,
  type PortainerEndpoint,
} from '../portainer/client';
import { isPortainerError } from '../portainer/errors';
import { normaliseStackName, sameAgentUrl } from '../portainer/names';
import { toActivityFailure, withFailureTranslation } from './failures';
import { heartbeat, pause } from './heartbeat';

export interface PortainerDeps {
  portainerClient?: (opts: PortainerClientOptions) => PortainerClient;
  dispatcherFor?: (tls: TlsTrust) => Dispatcher;
  resolveSecret?: (ref: SecretRef) => Promise<string>;
  /** Per request; default 30 s. */
  requestTimeoutMs?: number;
}

export interface CheckPortainerStackInput {
  portainer: PortainerSettings;
}

export interface PortainerStackCheck {
  /** False when nothing could be checked (no credentials, Portainer unreachable): `detail` says why. */
  checked: boolean;
  stackExists: boolean;
  containerRunning: boolean;
  detail: string;
}

export interface EnsurePortainerDeploymentInput {
  portainer: PortainerSettings;
  composeContent: string;
  /** Look only; report what would change. */
  dryRun?: boolean;
  /** How long to wait for the container to run after a deploy. Default 2 min. */
  waitBudgetMs?: number;
  pollEveryMs?: number;
}

export interface PortainerDeployment {
  environmentId: number | null;
  environment: 'reused' | 'created' | 'would-create';
  stackId: number | null;
  stack: 'unchanged' | 'created' | 'updated' | 'would-create' | 'would-update';
  containerRunning: boolean;
  /** What this call changed (or would change, in a dry run), in words. */
  changes: string[];
  detail: string;
}

/** Compose files are compared as text, ignoring line endings and trailing whitespace. */
function sameContent(a: string, b: string): boolean {
  const norm = (s: string) =>
    s
      .replace(/\r\n/g, '\n')
      .replace(/[ \t]+$/gm, '')
      .trimEnd();
  return norm(a) === norm(b);
}

export function createPortainerActivities(deps: PortainerDeps = {}) {
  const readSecret = deps.resolveSecret ?? (async (ref: SecretRef) => resolveSecret(ref));
  const makeDispatcher =
    deps.dispatcherFor ?? ((tls: TlsTrust) => dispatcherFor(tls, { what: 'Portainer', planField: 'portainer.tls' }));
  // One pool per way of trusting Portainer, kept across activities as the Proxmox client's is: a check that opens a
  // fresh TLS connection pays its handshake's round trips again, which is most of its time on a busy Portainer.
  // Idle sockets close after the dispatcher's keep-alive timeout.
  const dispatchers = new Map<string, Dispatcher>();
  const dispatcherForPlan = (tls: TlsTrust): Dispatcher => {
    const key = JSON.stringify(tls);
    let d = dispatchers.get(key);
    if (!d) {
      d = makeDispatcher(tls);
      dispatchers.set(key, d);
    }
    return d;
  };
  const makeClient = deps.portainerClient ?? ((o: PortainerClientOptions) => new PortainerClient(o));

  async function secret(ref: SecretRef, what: string): Promise<string> {
    try {
      return await readSecret(ref);
    } catch (e) {
      throw toActivityFailure(e, `Portainer ${what}`);
    }
  }

  /** Token preferred; username+password otherwise; undefined when the plan configures neither. */
  async function authFor(p: PortainerSettings): Promise<PortainerAuth | undefined> {
    const c = p.credentials;
    if (c?.apiKey) return { apiKey: await secret(c.apiKey, 'access token') };
    if (c?.username && c.password)
      return { username: await secret(c.username, 'username'), password: await secret(c.password, 'password') };
    return undefined;
  }

  /** Runs `fn` with a client of its own (its login stays in this activity) over the worker's pool for `p.tls`. */
  async function withClient<T>(
    p: PortainerSettings,
    auth: PortainerAuth,
    fn: (c: PortainerClient) => Promise<T>,
  ): Promise<T> {
    const dispatcher = dispatcherForPlan(p.tls);
    return fn(makeClient({ url: p.url, auth, timeoutMs: deps.requestTimeoutMs ?? 30_000, dispatcher }));
  }

  /** The environment for our agent: one with the same agent URL wins; else one with our name (a conflict). */
  async function findEnvironment(
    c: PortainerClient,
    p: PortainerSettings,
  ): Promise<{ byUrl?: PortainerEndpoint; byName?: PortainerEndpoint }> {
    const all = await c.listEndpoints();
    return {
      byUrl: all.find((e) => sameAgentUrl(e.URL, p.agentUrl)),
      byName: all.find((e) => e.Name === p.environmentName),
    };
  }

  function nameConflict(p: PortainerSettings, other: PortainerEndpoint): ApplicationFailure {
    return ApplicationFailure.nonRetryable(
      `Portainer environment "${p.environmentName}" already exists (id ${other.Id}) with agent URL ${other.URL}, not ${p.agentUrl}: ` +
        'rename or remove it in Portainer, or set portainer.environmentName to a free name',
      FailureType.PortainerEnvironmentConflict,
      { environmentId: other.Id },
    );
  }

  /** Manual mode: is the stack there and its container running? Never throws for "not yet". */
  async function checkPortainerStack(input: CheckPortainerStackInput): Promise<PortainerStackCheck> {
    const p = input.portainer;
    const project = normaliseStackName(p.stackName);
    const auth = await authFor(p);
    if (!auth) {
      return {
        checked: false,
        stackExists: false,
        containerRunning: false,
        detail: 'no Portainer credentials are configured, so the deploy cannot be checked automatically',
      };
    }
    try {
      return await withClient(p, auth, async (c) => {
        const { byUrl, byName } = await findEnvironment(c, p);
        const env = byUrl ?? byName;
        if (!env) {
          return {
            checked: true,
            stackExists: false,
            containerRunning: false,
            detail: `Portainer has no environment for agent ${p.agentUrl} (nor one named "${p.environmentName}")`,
          };
        }
        heartbeat({ checking: project, environmentId: env.Id });
        // Both at once: the person waits for this answer.
        const [stacks, containers] = await Promise.all([c.listStacks(env.Id), c.listContainers(env.Id, project)]);
        const stack = stacks.find((s) => s.Name === project);
        const running = containers.length > 0 && containers.every((k) => k.State === 'running');
        const states =
          containers.map((k) => `${k.Names[0] ?? k.Id.slice(0, 12)}=${k.State}`).join(', ') || 'no containers';
        return {
          checked: true,
          stackExists: !!stack,
          containerRunning: running,
          detail: `environment "${env.Name}" (id ${env.Id}): stack ${project} ${stack ? 'exists' : 'does not exist'}; ${states}`,
        };
      });
    } catch (e) {
      if (isPortainerError(e))
        return { checked: false, stackExists: false, containerRunning: false, detail: e.message };
      throw e;
    }
  }

  async function ensureEnvironment(c: PortainerClient, p: PortainerSettings, dryRun: boolean, changes: string[]) {
    const found = await findEnvironment(c, p);
    if (found.byUrl) return { env: found.byUrl, how: 'reused' as const };
    if (found.byName) throw nameConflict(p, found.byName);
    if (dryRun) {
      changes.push(`would create agent environment "${p.environmentName}" for ${p.agentUrl}`);
      return { env: undefined, how: 'would-create' as const };
    }
    try {
      const env = await c.createAgentEndpoint({ name: p.environmentName, url: p.agentUrl });
      changes.push(`created agent environment "${p.environmentName}" (id ${env.Id}) for ${p.agentUrl}`);
      return { env, how: 'created' as const };
    } catch (e) {
      if (!isPortainerError(e) || e.kind !== 'conflict') throw e;
      // Maybe our own earlier attempt created it and the answer was lost: look again.
      const again = await findEnvironment(c, p);
      if (again.byUrl) return { env: again.byUrl, how: 'reused' as const };
      throw again.byName ? nameConflict(p, again.byName) : e;
    }
  }

  async function waitForContainer(
    c: PortainerClient,
    envId: number,
    project: string,
    budgetMs: number,
    everyMs: number,
  ): Promise<string> {
    const deadline = Date.now() + budgetMs;
    for (;;) {
      const containers = await c.listContainers(envId, project);
      const states =
        containers.map((k) => `${k.Names[0] ?? k.Id.slice(0, 12)}=${k.State}`).join(', ') || 'no containers yet';
      heartbeat({ waitingFor: project, states });
      if (containers.length > 0 && containers.every((k) => k.State === 'running')) return states;
      if (Date.now() >= deadline) {
        throw ApplicationFailure.retryable(
          `Compose project ${project} on environment ${envId} is not running after ${budgetMs} ms (${states}); check the container logs in Portainer`,
          FailureType.PortainerContainerNotRunning,
        );
      }
      await pause(Math.min(everyMs, Math.max(deadline - Date.now(), 1)));
    }
  }

  /** api mode: make Portainer run our stack on the new VM's agent. Idempotent; `dryRun` only looks. */
  async function ensurePortainerDeployment(input: EnsurePortainerDeploymentInput): Promise<PortainerDeployment> {
    const p = input.portainer;
    const dryRun = input.dryRun ?? false;
    const project = normaliseStackName(p.stackName);
    const auth = await authFor(p);
    if (!auth) {
      throw ApplicationFailure.nonRetryable(
        'portainer.mode is "api" but no credentials are configured: set portainer.credentials.apiKey (an access token) or username and password',
        FailureType.PortainerCredentialsMissing,
      );
    }
    const changes: string[] = [];
    heartbeat({ deploying: project });
    try {
      return await withClient(p, auth, async (c) => {
        const { env, how } = await ensureEnvironment(c, p, dryRun, changes);
        if (!env) {
          changes.push(`would create stack ${project} and wait for it to run`);
          return {
            environmentId: null,
            environment: how,
            stackId: null,
            stack: 'would-create',
            containerRunning: false,
            changes,
            detail: changes.join('; '),
          };
        }
        heartbeat({ environmentId: env.Id });

        let stack = (await c.listStacks(env.Id)).find((s) => s.Name === project);
        let stackHow: PortainerDeployment['stack'];
        if (stack) {
          const current = await c.getStackFile(stack.Id);
          if (sameContent(current, input.composeContent)) stackHow = 'unchanged';
          else if (!p.allowStackUpdate) {
            throw ApplicationFailure.nonRetryable(
              `Stack ${project} (id ${stack.Id}) on environment "${env.Name}" has different compose content than the plan's file; ` +
                'compare them and either update the stack by hand or set portainer.allowStackUpdate to true',
              FailureType.PortainerStackDiffers,
              { stackId: stack.Id },
            );
          } else if (dryRun) {
            stackHow = 'would-update';
            changes.push(`would update stack ${project} (id ${stack.Id}) with the plan's compose file`);
          } else {
            stack = await c.updateStack(stack.Id, env.Id, input.composeContent, stack.Env ?? []);
            stackHow = 'updated';
            changes.push(`updated stack ${project} (id ${stack.Id})`);
          }
        } else if (dryRun) {
          stackHow = 'would-create';
          changes.push(`would create stack ${project} on environment "${env.Name}"`);
        } else {
          try {
            stack = await c.createStandaloneStackFromString(env.Id, p.stackName, input.composeContent);
            stackHow = 'created';
            changes.push(`created stack ${project} (id ${stack.Id}) on environment "${env.Name}"`);
          } catch (e) {
            if (!isPortainerError(e) || e.kind !== 'conflict') throw e;
            // Our earlier attempt may have created it: accept it only if its content is ours.
            stack = (await c.listStacks(env.Id)).find((s) => s.Name === project);
            if (!stack || !sameContent(await c.getStackFile(stack.Id), input.composeContent)) {
              throw ApplicationFailure.nonRetryable(
                `Portainer refused stack ${project} on environment "${env.Name}": ${e.message}. ` +
                  `Containers of compose project ${project} probably run there outside Portainer: remove them (docker compose down) or adopt them, then retry`,
                FailureType.PortainerStackConflict,
              );
            }
            stackHow = 'unchanged';
          }
        }

        if (dryRun) {
          const running = (await c.listContainers(env.Id, project)).some((k) => k.State === 'running');
          return {
            environmentId: env.Id,
            environment: how,
            stackId: stack?.Id ?? null,
            stack: stackHow,
            containerRunning: running,
            changes,
            detail: changes.join('; ') || 'nothing to change',
          };
        }
        const states = await waitForContainer(
          c,
          env.Id,
          project,
          input.waitBudgetMs ?? 120_000,
          input.pollEveryMs ?? 2000,
        );
        return {
          environmentId: env.Id,
          environment: how,
          stackId: stack?.Id ?? null,
          stack: stackHow,
          containerRunning: true,
          changes,
          detail: `${changes.join('; ') || 'environment and stack already in place'}; ${states}`,
        };
      });
    } catch (e) {
      throw toActivityFailure(e, `Portainer deployment of stack ${project} at ${p.url}`);
    }
  }

  return withFailureTranslation({ checkPortainerStack, ensurePortainerDeployment });
}

export type PortainerActivities = ReturnType<typeof createPortainerActivities>;
