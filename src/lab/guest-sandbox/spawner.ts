/**
 * A process that starts the guests' commands for the lab's simulators (`GuestSpawner` forks three and sends each
 * guest's commands to the same one), so that starting one never stalls them.
 *
 * Why a process of its own: node's spawn is synchronous — it forks the whole calling process and then waits until the
 * child has exec'd. Forked from the process that also serves the Proxmox, Portainer and Qdrant simulators, each guest
 * command froze their event loop while the kernel copied its page tables and the two busy cores got round to the
 * child: 12 ms per command on average, up to 79 ms, 60 % of the time in the bench fleet's 40 s of provisioning (1,510
 * commands; BENCHMARKS.md, "Results of 2026-12-02, afternoon"). A real Proxmox host's API answers while its VMs run
 * their commands. Here the fork copies a small process, and the wait holds up no simulator (and, with three of them,
 * only a third of the guests).
 *
 * It also builds a guest's root at the guest's first command (tens of milliseconds of file system calls, which froze
 * the simulators too). Messages in: `{ id, root, image, nfsRoot, env, argv, input }`. Out: `{ id, stream: 'out' | 'err', data }` for each chunk,
 * then `{ id, exitcode, ms }` once (127 when the command could not be started, with what went wrong on stderr).
 */
import { spawn } from 'node:child_process';
import { ensureGuestRoot, guestCommand, type GuestCommandEnv } from './guest-command';
import type { GuestImage } from './images';

export interface SpawnRequest {
  id: number;
  /** The guest's root directory and the image it is built from at the guest's first command. */
  root: string;
  image: GuestImage;
  nfsRoot: string;
  env: GuestCommandEnv;
  /** What runs inside the guest. */
  argv: string[];
  input: string;
}

export type SpawnMessage =
  | { id: number; stream: 'out' | 'err'; data: Uint8Array }
  /** `ms`: from just before the spawn to the exit, as the helper saw it (the command's own run time). */
  | { id: number; exitcode: number; ms: number };

function send(message: SpawnMessage): void {
  process.send?.(message);
}

function start(req: SpawnRequest): void {
  let ended = false;
  const startedAt = Date.now();
  const end = (exitcode: number) => {
    if (ended) return;
    ended = true;
    send({ id: req.id, exitcode, ms: Date.now() - startedAt });
  };
  let command: string[];
  let env: Record<string, string>;
  try {
    ensureGuestRoot(req.root, req.image);
    ({ argv: command, env } = guestCommand(req.root, req.nfsRoot, req.env, req.argv));
  } catch (err) {
    send({ id: req.id, stream: 'err', data: Buffer.from(`sandbox: ${(err as Error).message}\n`) });
    return end(127);
  }
  const child = spawn(command[0], command.slice(1), { env, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdout.on('data', (data: Buffer) => send({ id: req.id, stream: 'out', data }));
  child.stderr.on('data', (data: Buffer) => send({ id: req.id, stream: 'err', data }));
  // A command that exits before reading its input closes the pipe: EPIPE is its business, not the simulator's.
  child.stdin.on('error', () => undefined);
  child.stdin.end(req.input);
  child.once('close', (code, signal) => end(code ?? (signal ? 128 : -1)));
  child.once('error', (err) => {
    send({ id: req.id, stream: 'err', data: Buffer.from(`sandbox: ${err.message}\n`) });
    end(127);
  });
}

if (require.main === module) {
  process.on('message', (req: SpawnRequest) => start(req));
  // The lab went away: so do we (bwrap's --die-with-parent then ends the commands still running).
  process.on('disconnect', () => process.exit(0));
}
