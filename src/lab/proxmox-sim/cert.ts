import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SimCertificate {
  dir: string;
  caCertPem: string;
  caFile: string;
  certPem: string;
  keyPem: string;
  /** SHA-256 of the leaf, colon hex upper-case, as `pvenode cert info` prints it. */
  fingerprint: string;
}

/**
 * Like a PVE node: a cluster CA, and a node certificate it signed with SANs for loopback and localhost.
 * Made with the openssl CLI (fresh for every simulator, or once per `dir` when one is given); nothing is committed.
 */
export function generateNodeCertificate(nodeName: string, dir?: string, extraIps: string[] = []): SimCertificate {
  if (dir && existsSync(join(dir, 'node.pem')) && existsSync(join(dir, 'node.key'))) return readCertificate(dir);
  if (dir) mkdirSync(dir, { recursive: true });
  else dir = mkdtempSync(join(tmpdir(), 'proxmox-sim-'));
  const cwd = dir;
  const run = (args: string[]) => execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  run([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '3',
    '-subj',
    '/CN=Proxmox Virtual Environment/OU=sim/O=PVE Cluster Manager CA',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  run([
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-subj',
    `/CN=${nodeName}.local/OU=PVE Cluster Node/O=Proxmox Virtual Environment`,
    '-keyout',
    'node.key',
    '-out',
    'node.csr',
  ]);
  writeFileSync(
    join(dir, 'ext.cnf'),
    `subjectAltName=${[...new Set(['127.0.0.1', ...extraIps])].map((ip) => `IP:${ip}`).join(',')},IP:::1,DNS:localhost,DNS:${nodeName},DNS:${nodeName}.local\n` +
      'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n',
  );
  run([
    'x509',
    '-req',
    '-in',
    'node.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '3',
    '-extfile',
    'ext.cnf',
    '-out',
    'node.pem',
  ]);
  return readCertificate(dir);
}

function readCertificate(dir: string): SimCertificate {
  const certPem = readFileSync(join(dir, 'node.pem'), 'utf8');
  return {
    dir,
    caCertPem: readFileSync(join(dir, 'ca.pem'), 'utf8'),
    caFile: join(dir, 'ca.pem'),
    certPem,
    keyPem: readFileSync(join(dir, 'node.key'), 'utf8'),
    fingerprint: new X509Certificate(certPem).fingerprint256,
  };
}
