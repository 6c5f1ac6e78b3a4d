/**
 * `gateway diff` and `gateway refs`: look at a copy of the gateway's site file on this machine, without
 * touching the gateway. The diff is exactly what cutoverGateway would write.
 */
import { readFileSync } from 'node:fs';
import { unifiedDiff } from '../nginx/diff';
import { readUpstreams, rewriteUpstream, type UpstreamInfo } from '../nginx/upstream';
import { ExitCode, type CliIo } from './io';

export interface GatewayDiffArgs {
  file: string;
  upstream: string;
  servers: string[];
}

export interface GatewayRefsArgs {
  file: string;
  /** Only upstreams with a server on one of these addresses (host part, e.g. `10.0.0.152`). */
  ips?: string[];
  json?: boolean;
}

function readText(file: string, io: CliIo): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    io.err(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}. Copy the gateway's site file here first (e.g. pct exec 101 -- cat /etc/nginx/sites-available/<site>).`,
    );
    return undefined;
  }
}

export async function runGatewayDiff(args: GatewayDiffArgs, io: CliIo): Promise<number> {
  const text = readText(args.file, io);
  if (text === undefined) return ExitCode.badInput;
  const r = rewriteUpstream(text, args.upstream, args.servers);
  if (!r.ok) {
    io.err(`${args.file}: ${r.error}`);
    return ExitCode.badInput;
  }
  if (!r.changed) {
    io.out(`upstream ${args.upstream} already points at ${args.servers.join(', ')}: the cutover would change nothing.`);
    return ExitCode.ok;
  }
  io.out(unifiedDiff(text, r.text, `${args.file} (now)`, `${args.file} (after cutover)`));
  return ExitCode.ok;
}

export async function runGatewayRefs(args: GatewayRefsArgs, io: CliIo): Promise<number> {
  const text = readText(args.file, io);
  if (text === undefined) return ExitCode.badInput;
  let upstreams: UpstreamInfo[];
  try {
    upstreams = readUpstreams(text);
  } catch (err) {
    io.err(`${args.file}: ${(err as Error).message}`);
    return ExitCode.badInput;
  }
  const ips = args.ips && args.ips.length > 0 ? new Set(args.ips) : undefined;
  const shown = ips ? upstreams.filter((u) => u.servers.some((s) => ips.has(s.host))) : upstreams;
  if (args.json) {
    io.out(JSON.stringify(shown, null, 2));
    return ExitCode.ok;
  }
  if (shown.length === 0) {
    io.out(ips ? `no upstream in ${args.file} points at ${[...ips].join(', ')}` : `${args.file} defines no upstreams`);
    return ExitCode.ok;
  }
  const width = Math.max(...shown.map((u) => u.name.length));
  for (const u of shown) {
    const servers = u.servers.map((s) => [s.address, ...s.params].join(' ')).join(', ') || '(no servers)';
    io.out(`${u.name.padEnd(width)}  line ${String(u.line).padEnd(4)}  ${servers}`);
  }
  return ExitCode.ok;
}
