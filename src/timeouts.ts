/**
 * How long the gateway activities may take, from the plan's own durations — so a start-to-close timeout always
 * covers the worst case the plan allows (SSH connect + every remote command at its timeout, lock wait included;
 * the verification budget plus its last requests) — and the durations that cannot fit at all, which `validate`
 * refuses naming the field. A neutral module without imports: the workflow (deterministic data) and config use it.
 */

/** Answers in a row from the new instance that prove the cutover (verifyGatewayIdentity's default). */
export const VERIFY_ANSWERS_IN_A_ROW = 3;
/** Below this, the new instance cannot be seen answering N times in a row after nginx's workers switched. */
export const MIN_VERIFY_BUDGET_MS = 2_000;
/** Per-request timeout of the verification, and the slack after its budget for the last request and the answer. */
export const VERIFY_REQUEST_TIMEOUT_MS = 5_000;
const VERIFY_SLACK_MS = 60_000;
/** The write script runs `nginx -t` twice, a reload and waits up to 5 s for new workers: under this it cannot finish. */
export const MIN_GATEWAY_COMMAND_TIMEOUT_MS = 15_000;
/** Remote commands one gateway activity may run at most: 3 compare-and-swap tries (read + write), a reload, a cat. */
const GATEWAY_COMMANDS_WORST_CASE = 8;
const SSH_SLACK_MS = 30_000;
/** Temporal's heartbeat timeout for every activity; the gateway activities heartbeat every 3 s during remote steps. */
export const HEARTBEAT_TIMEOUT_MS = 20_000;

export interface SshTimeouts {
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

/** cutoverGateway / rollbackGateway / readGateway: connect + every command at its timeout + slack. */
export function gatewayStartToCloseMs(ssh: SshTimeouts): number {
  return ssh.connectTimeoutMs + GATEWAY_COMMANDS_WORST_CASE * ssh.commandTimeoutMs + SSH_SLACK_MS;
}

/** verifyGatewayIdentity: the budget, then one more request and the answer. */
export function verifyStartToCloseMs(verifyBudgetMs: number): number {
  return verifyBudgetMs + VERIFY_REQUEST_TIMEOUT_MS + VERIFY_SLACK_MS;
}

export interface DurationProblem {
  /** JSON path in the plan file. */
  path: (string | number)[];
  message: string;
  hint: string;
}

/** Durations the run cannot honour, whatever its timeouts. */
export function durationProblems(t: {
  verifyBudgetMs: number;
  gatewaySsh: SshTimeouts;
  gatewaySshPath: (string | number)[];
}): DurationProblem[] {
  const problems: DurationProblem[] = [];
  if (t.verifyBudgetMs < MIN_VERIFY_BUDGET_MS)
    problems.push({
      path: ['durations', 'verifyBudget'],
      message: `durations.verifyBudget ${t.verifyBudgetMs} ms is too short to see the new Qdrant answer ${VERIFY_ANSWERS_IN_A_ROW} times in a row through the gateway after nginx's reload`,
      hint: `give it at least ${MIN_VERIFY_BUDGET_MS / 1000}s (default 2m)`,
    });
  if (t.gatewaySsh.commandTimeoutMs < MIN_GATEWAY_COMMAND_TIMEOUT_MS)
    problems.push({
      path: [...t.gatewaySshPath, 'commandTimeoutMs'],
      message: `${t.gatewaySshPath.join('.')}.commandTimeoutMs ${t.gatewaySsh.commandTimeoutMs} ms cannot fit the gateway change (nginx -t twice, a reload, up to 5 s watching nginx replace its workers, and the wait for the lock)`,
      hint: `give it at least ${MIN_GATEWAY_COMMAND_TIMEOUT_MS} ms (default 120000)`,
    });
  return problems;
}
