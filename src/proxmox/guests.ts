import type { ProxmoxHttp, ReadOptions } from './client';
import { ProxmoxError } from './errors';

const agentPath = (node: string, vmid: number, leaf: string) =>
  `/nodes/${encodeURIComponent(node)}/qemu/${vmid}/agent/${leaf}`;
const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A read-only "does the agent answer" (GET agent/info), so re-checks of a ready VM make no POSTs. Throws while the
 * agent does not answer ("QEMU guest agent is not running": a 500). Asked once, without the client's read retries:
 * the caller polls for the agent, and retries 200–800 ms later only hid from it the moment the agent came up.
 */
export async function agentInfo(http: ProxmoxHttp, node: string, vmid: number): Promise<{ version?: string }> {
  const data = await http.get<{ result?: { version?: string } }>(agentPath(node, vmid, 'info'), undefined, {
    retries: 0,
  });
  return data?.result ?? {};
}

export interface GuestExecResult {
  exitcode: number;
  stdout: string;
  stderr: string;
}

interface ExecStatus {
  exited: number | boolean;
  exitcode?: number;
  'out-data'?: string;
  'err-data'?: string;
  signal?: number;
}

/**
 * How often a guest command's status is asked (exec-status): 10 ms after the start, then each pause 1.5× the one
 * before, up to 1 s. Most provisioning commands end within tens of milliseconds and each is on the critical path:
 * with ×1.5 an end is noticed at most half the command's run time late (×2 allowed a whole run time), for a few more
 * cheap GETs in the first second; a long command costs one GET per second (BENCHMARKS.md: "Polling"). Not at once:
 * no command has ended by the time its exec's answer is back, and that GET was one in ten of a fleet's API requests
 * (BENCHMARKS.md, "Results of 2026-12-02, afternoon").
 */
export const GUEST_EXEC_POLL = { firstMs: 10, factor: 1.5, maxMs: 1_000 } as const;

/** The pauses between exec-status polls, without end (the caller stops at its deadline). */
export function* guestExecPolls(): Generator<number, never> {
  for (let ms: number = GUEST_EXEC_POLL.firstMs; ; ms = Math.min(GUEST_EXEC_POLL.maxMs, ms * GUEST_EXEC_POLL.factor))
    yield Math.round(ms);
}

/**
 * Run argv in the VM through the guest agent and wait for it to exit. Not idempotent by itself: use it for reads
 * (`docker info`) or commands that are safe to repeat.
 */
export async function guestExec(
  http: ProxmoxHttp,
  node: string,
  vmid: number,
  argv: string[],
  opts: { timeoutMs: number; inputData?: string; sleep?: (ms: number) => Promise<void> },
): Promise<GuestExecResult> {
  if (argv.length === 0) throw new ProxmoxError('guestExec needs a command (argv is empty).', { kind: 'invalid' });
  const sleep = opts.sleep ?? defaultSleep;
  const started = await http.post<{ pid: number }>(agentPath(node, vmid, 'exec'), {
    command: argv,
    'input-data': opts.inputData,
  });
  const deadline = Date.now() + opts.timeoutMs;
  for (const interval of guestExecPolls()) {
    await sleep(interval);
    const status = await http.get<ExecStatus>(agentPath(node, vmid, 'exec-status'), { pid: started.pid });
    if (status.exited === 1 || status.exited === true) {
      return {
        exitcode: status.exitcode ?? (status.signal !== undefined ? 128 + status.signal : -1),
        stdout: status['out-data'] ?? '',
        stderr: status['err-data'] ?? '',
      };
    }
    if (Date.now() >= deadline) {
      throw new ProxmoxError(
        `Command ${JSON.stringify(argv[0])} in VM ${vmid} did not finish within ${opts.timeoutMs} ms (guest agent pid ${started.pid}).`,
        { kind: 'transient' },
      );
    }
  }
  throw new Error('unreachable: guestExecPolls() does not end');
}

/** Start argv in the VM (POST agent/exec) → the agent's pid; poll it with `guestExecStatus`. */
export async function guestExecStart(
  http: ProxmoxHttp,
  node: string,
  vmid: number,
  argv: string[],
  inputData?: string,
): Promise<number> {
  if (argv.length === 0) throw new ProxmoxError('guestExec needs a command (argv is empty).', { kind: 'invalid' });
  const started = await http.post<{ pid: number }>(agentPath(node, vmid, 'exec'), {
    command: argv,
    'input-data': inputData,
  });
  return started.pid;
}

/** One look at a command started with `guestExecStart`: undefined while it runs. */
export async function guestExecStatus(
  http: ProxmoxHttp,
  node: string,
  vmid: number,
  pid: number,
): Promise<GuestExecResult | undefined> {
  const status = await http.get<ExecStatus>(agentPath(node, vmid, 'exec-status'), { pid });
  if (!(status.exited === 1 || status.exited === true)) return undefined;
  return {
    exitcode: status.exitcode ?? (status.signal !== undefined ? 128 + status.signal : -1),
    stdout: status['out-data'] ?? '',
    stderr: status['err-data'] ?? '',
  };
}

/**
 * A file's content through the guest agent (GET agent/file-read; PVE decodes it and reads at most 16 MiB).
 * Needs VM.GuestAgent.FileRead on PVE 9 (VM.Monitor on PVE 8). A missing file is a 500 from the agent
 * ("guest-file-open … No such file"), so `retries: 0` lets a caller that expects it (a log not written yet) skip the
 * client's read retries.
 */
export async function guestFileRead(
  http: ProxmoxHttp,
  node: string,
  vmid: number,
  file: string,
  opts?: ReadOptions,
): Promise<{ content: string; truncated: boolean }> {
  const data = await http.get<{ content?: string; truncated?: number | boolean }>(
    agentPath(node, vmid, 'file-read'),
    { file },
    opts,
  );
  return { content: data?.content ?? '', truncated: data?.truncated === true || data?.truncated === 1 };
}
