/**
 * Webhook notifications: a POST with a JSON body when the run waits for a person, is rejected, completes or fails.
 * The URL is read from the worker's environment (it may embed a token), never from workflow input.
 */
import { request } from 'undici';
import { FailureType } from '../failure-types';
import { refuse, withFailureTranslation } from './failures';
import { heartbeat } from './heartbeat';

export interface NotifyEvent {
  event: string;
  message: string;
  workflowId: string;
  planName: string;
  phase: string;
  /** On `waiting` and `reminder`: what the run waits for, by the names of its memo's `waitingFor`. */
  waitingFor?: string;
}

export function createNotifyActivities(deps: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}) {
  const env = deps.env ?? process.env;
  return withFailureTranslation({
    async notify(input: {
      webhookUrlEnv: string;
      event: NotifyEvent;
    }): Promise<{ delivered: boolean; status?: number }> {
      const url = env[input.webhookUrlEnv];
      if (!url) {
        // The URL may embed a token: it is a secret like any other, and missing it is the same failure.
        throw refuse(
          FailureType.SecretUnavailable,
          `notify.webhookUrlEnv names ${input.webhookUrlEnv}, which is not set on the worker: export it or remove notify from the plan`,
        );
      }
      heartbeat({ notifying: input.event.event });
      const res = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'phoenix-migrate' },
        body: JSON.stringify({ ...input.event, at: new Date().toISOString() }),
        headersTimeout: deps.timeoutMs ?? 10_000,
        bodyTimeout: deps.timeoutMs ?? 10_000,
      });
      await res.body.dump();
      if (res.statusCode >= 500 || res.statusCode === 429)
        throw new Error(`webhook answered ${res.statusCode}; will retry`);
      if (res.statusCode >= 400)
        throw refuse(
          FailureType.NotifyWebhookRejected,
          `webhook answered ${res.statusCode}: check the URL in ${input.webhookUrlEnv}`,
        );
      return { delivered: true, status: res.statusCode };
    },
  });
}
