/**
 * Where a command runs: a host reached by SSH, or a container reached through the Proxmox host with
 * `pct exec <ctid> -- argv` (how the Phoenix tooling reaches the gateway, LXC 101). Both take argv; the
 * quoting happens once, in the SSH session (pct passes argv on to lxc-attach without another shell).
 */
import type { CommandResult, RunOptions, SshSession } from './ssh';

export interface RemoteTarget {
  describe: string;
  run(argv: string[], opts?: RunOptions): Promise<CommandResult>;
}

export function hostTarget(session: SshSession): RemoteTarget {
  return { describe: session.describe, run: (argv, opts) => session.run(argv, opts) };
}

export function containerTarget(session: SshSession, ctid: number): RemoteTarget {
  if (!Number.isInteger(ctid) || ctid <= 0)
    throw new Error(`containerTarget: ctid must be a positive integer, got ${ctid}`);
  return {
    describe: `CT ${ctid} via ${session.describe}`,
    run: (argv, opts) => session.run(['pct', 'exec', String(ctid), '--', ...argv], opts),
  };
}
