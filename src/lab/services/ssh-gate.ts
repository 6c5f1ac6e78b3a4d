/**
 * The lab's Proxmox host runs the SAME forced command the real one should: deploy/proxmox-host/phoenix-ssh-gate,
 * configured for the lab's paths, with the pinned script hashes of this very build. Every command the worker sends
 * to the "Proxmox host" passes through it, so a remote command shape the gate does not know fails the lab (and the
 * end-to-end tests) the way it would fail on the real host.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PUT_FILE_SCRIPT } from '../../activities/files';
import { READ_SCRIPT, RELOAD_SCRIPT, TEST_SCRIPT, WRITE_SCRIPT } from '../../nginx/scripts';

export const SSH_GATE = path.resolve(__dirname, '..', '..', '..', 'deploy', 'proxmox-host', 'phoenix-ssh-gate');

export interface GateSettings {
  ct: number;
  nfsRoot: string;
  backupDir: string;
  pidFile: string;
  errorLog: string;
  nginx: string[];
  pct: string[];
  /** Phoenix's VM config the phoenix-cli provisioner's preflight reads (`cat -- FILE`); the gate's default otherwise. */
  phoenixVmConfig?: string;
}

/** The lines of allowed-scripts.sha256 (what `node deploy/proxmox-host/print-allowed-scripts.js` prints). */
export function allowedScriptLines(): string {
  const scripts: [string, string][] = [
    ['READ_SCRIPT', READ_SCRIPT],
    ['WRITE_SCRIPT', WRITE_SCRIPT],
    ['RELOAD_SCRIPT', RELOAD_SCRIPT],
    ['TEST_SCRIPT', TEST_SCRIPT],
    ['PUT_FILE_SCRIPT', PUT_FILE_SCRIPT],
  ];
  return scripts
    .map(([name, text]) => `${crypto.createHash('sha256').update(text, 'utf8').digest('hex')} ${name}\n`)
    .join('');
}

/** Where the gate's config will be, and the authorized_keys `command=` that runs the gate with it. */
export function gateCommand(dir: string): { configFile: string; command: string } {
  const configFile = path.join(dir, 'gate.conf');
  return { configFile, command: `/usr/bin/perl ${SSH_GATE} --config ${configFile}` };
}

/** Writes the gate's config and the allowed hashes into `dir` (read by the gate at every connection). */
export function writeGateConfig(dir: string, s: GateSettings): void {
  fs.mkdirSync(dir, { recursive: true });
  const allowed = path.join(dir, 'allowed-scripts.sha256');
  fs.writeFileSync(allowed, allowedScriptLines());
  const quote = (words: string[]) => words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
  fs.writeFileSync(
    gateCommand(dir).configFile,
    [
      '# phoenix-ssh-gate settings for this lab world (written by src/lab/services/ssh-gate.ts)',
      `CT=${s.ct}`,
      `NFS_ROOT=${s.nfsRoot}`,
      `BACKUP_DIR=${s.backupDir}`,
      `PID_FILE=${s.pidFile}`,
      `ERROR_LOG=${s.errorLog}`,
      `ALLOWED=${allowed}`,
      `NGINX=${quote(s.nginx)}`,
      `PCT=${quote(s.pct)}`,
      ...(s.phoenixVmConfig ? [`PHOENIX_VM_CONFIG=${s.phoenixVmConfig}`] : []),
      '',
    ].join('\n'),
  );
}
