/**
 * Every broken plan or Phoenix config must fail `validate` with exit 2 and name the file and JSON path to fix.
 * Each case mutates a private copy of the shipped examples in its own temp dir.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runValidate } from '../../../src/cli/validate';
import { captureIo, makeWorld, type Mutations } from './plan-world';

type FileKey = 'plan' | 'vm' | 'lxc';
const FILE_NAME: Record<FileKey, string> = {
  plan: 'qdrant-to-dr-phoenix.json',
  vm: 'phoenix_vm_configs.json',
  lxc: 'phoenix_lxc_configs.json',
};

interface Case {
  what: string;
  mutate: Mutations;
  file: FileKey;
  path: string;
  /** A word the message must contain. */
  says?: RegExp;
}

const vm1001 = (c: any) => c.vms[1]; // eslint-disable-line @typescript-eslint/no-explicit-any
const vm1002 = (c: any) => c.vms[2]; // eslint-disable-line @typescript-eslint/no-explicit-any

const cases: Case[] = [
  { what: 'plan name with capitals', mutate: { plan: (p) => (p.name = 'Qdrant-Move') }, file: 'plan', path: '$.name' },
  { what: 'plan name over 40 chars', mutate: { plan: (p) => (p.name = 'a'.repeat(41)) }, file: 'plan', path: '$.name' },
  {
    what: 'unknown plan field',
    mutate: { plan: (p) => (p.proxmox.nodee = 'x') },
    file: 'plan',
    path: '$.proxmox.nodee',
    says: /unknown field/,
  },
  {
    what: 'missing required field',
    mutate: { plan: (p) => delete p.qdrant.newUrl },
    file: 'plan',
    path: '$.qdrant.newUrl',
    says: /missing/,
  },
  {
    what: 'token secret inline',
    mutate: { plan: (p) => (p.proxmox.tokenSecret = 's3cret-value') },
    file: 'plan',
    path: '$.proxmox.tokenSecret',
    says: /plain string/,
  },
  {
    what: 'tokenId carrying the secret',
    mutate: { plan: (p) => (p.proxmox.tokenId = 'root@pam!phoenix=abc') },
    file: 'plan',
    path: '$.proxmox.tokenId',
    says: /tokenId contains "="/,
  },
  {
    what: 'PEM key pasted into a field',
    mutate: { plan: (p) => (p.description = '-----BEGIN OPENSSH PRIVATE KEY-----\nabc') },
    file: 'plan',
    path: '$.description',
    says: /PEM/,
  },
  {
    what: 'UUID token secret pasted anywhere',
    mutate: { plan: (p) => (p.proxmoxHost.user = '0e8a1b2c-3d4e-4f50-8a6b-7c8d9e0f1a2b') },
    file: 'plan',
    path: '$.proxmoxHost.user',
    says: /token secret/,
  },
  {
    what: 'Portainer password inline',
    mutate: { plan: (p) => (p.portainer.credentials = { password: 'hunter2' }) },
    file: 'plan',
    path: '$.portainer.credentials.password',
  },
  {
    what: 'secret ref with both env and file',
    mutate: { plan: (p) => (p.proxmox.tokenSecret = { env: 'A', file: '/x' }) },
    file: 'plan',
    path: '$.proxmox.tokenSecret',
  },
  {
    what: 'two TLS trust choices',
    mutate: { plan: (p) => (p.proxmox.tls = { caFile: '/ca.pem', insecure: true }) },
    file: 'plan',
    path: '$.proxmox.tls',
  },
  {
    what: 'bad duration',
    mutate: { plan: (p) => (p.durations.remindEvery = '5 minutes') },
    file: 'plan',
    path: '$.durations.remindEvery',
    says: /duration/,
  },
  {
    what: 'a verification budget too short to see the new Qdrant answer 3 times in a row',
    mutate: { plan: (p) => (p.durations.verifyBudget = '1s') },
    file: 'plan',
    path: '$.durations.verifyBudget',
    says: /durations\.verifyBudget 1000 ms is too short .* at least 2s/,
  },
  {
    what: 'an SSH command timeout the gateway change cannot fit in',
    mutate: { plan: (p) => (p.proxmoxHost.commandTimeoutMs = 5000) },
    file: 'plan',
    path: '$.proxmoxHost.commandTimeoutMs',
    says: /proxmoxHost\.commandTimeoutMs 5000 ms cannot fit the gateway change/,
  },
  {
    what: 'vmid in a VM and a container',
    mutate: { vm: (c) => c.vms.push({ vmid: 801, name: 'dup', clone_from_vmid: 9000 }) },
    file: 'vm',
    path: '$.vms[3].vmid',
    says: /also a container/,
  },
  {
    what: 'vmid twice among VMs',
    mutate: { vm: (c) => c.vms.push({ vmid: 1001, name: 'dup' }) },
    file: 'vm',
    path: '$.vms[3].vmid',
    says: /twice/,
  },
  {
    what: "duplicate IP (the gateway's)",
    mutate: { vm: (c) => (vm1002(c).network_config.ip = '10.0.0.153/24') },
    file: 'vm',
    path: '$.vms[2].network_config.ip',
    says: /also used by/,
  },
  {
    what: 'duplicate MAC',
    mutate: { lxc: (c) => (c.lxc_configs['102'].mac_address = '52:54:00:67:89:b1') },
    file: 'lxc',
    path: '$.lxc_configs["102"].mac_address',
    says: /also used by CT 101/,
  },
  {
    what: 'IP not a CIDR',
    mutate: { vm: (c) => (vm1002(c).network_config.ip = '10.0.0.300/24') },
    file: 'vm',
    path: '$.vms[2].network_config.ip',
    says: /CIDR/,
  },
  {
    what: "IP outside its gateway's subnet",
    mutate: { vm: (c) => (vm1002(c).network_config.ip = '10.0.1.102/24') },
    file: 'vm',
    path: '$.vms[2].network_config.ip',
    says: /outside the subnet/,
  },
  {
    what: 'compose destination absolute',
    mutate: { vm: (c) => (vm1001(c).docker_compose_files[0].destination = '/etc/qdrant.yml') },
    file: 'vm',
    path: '$.vms[1].docker_compose_files[0].destination',
  },
  {
    what: 'compose destination with ..',
    mutate: { vm: (c) => (vm1001(c).docker_compose_files[0].destination = 'qdrant/../../x.yml') },
    file: 'vm',
    path: '$.vms[1].docker_compose_files[0].destination',
  },
  {
    what: 'compose destination with a space',
    mutate: { vm: (c) => (vm1001(c).docker_compose_files[0].destination = 'qdrant/my compose.yml') },
    file: 'vm',
    path: '$.vms[1].docker_compose_files[0].destination',
  },
  {
    what: 'target vmid is a legacy guest',
    mutate: { plan: (p) => (p.vms = [1001, 952]) },
    file: 'plan',
    path: '$.vms[1]',
    says: /legacy guest 952/,
  },
  {
    what: 'target vmid is the template',
    mutate: { plan: (p) => (p.vms = [1001, 9000]) },
    file: 'plan',
    path: '$.vms[1]',
    says: /template/,
  },
  {
    what: 'target vmid is the gateway',
    mutate: { plan: (p) => (p.vms = [101, 1002]) },
    file: 'plan',
    path: '$.vms[0]',
    says: /gateway/,
  },
  {
    what: 'clone source not a template',
    mutate: { vm: (c) => (vm1002(c).clone_from_vmid = 1001) },
    file: 'vm',
    path: '$.vms[2].clone_from_vmid',
    says: /not a template/,
  },
  {
    what: 'guest name Proxmox refuses',
    mutate: { vm: (c) => (vm1002(c).name = 'Dr_Phoenix') },
    file: 'vm',
    path: '$.vms[2].name',
    says: /DNS name/,
  },
  {
    what: 'container name ending in -',
    mutate: { lxc: (c) => (c.lxc_configs['801'].name = 'granite-') },
    file: 'lxc',
    path: '$.lxc_configs["801"].name',
  },
  {
    what: 'unknown vmid in the plan',
    mutate: { plan: (p) => (p.vms = [1001, 1003]) },
    file: 'plan',
    path: '$.vms[1]',
    says: /not defined/,
  },
  {
    what: 'unknown gateway ctid',
    mutate: { plan: (p) => (p.gateway.ctid = 199) },
    file: 'plan',
    path: '$.gateway.ctid',
  },
  {
    what: 'vmid below 100 in the VM config',
    mutate: { vm: (c) => (vm1002(c).vmid = 99) },
    file: 'vm',
    path: '$.vms[2].vmid',
    says: /outside 100/,
  },
  {
    what: 'legacy guest id out of range',
    mutate: { plan: (p) => (p.legacyGuests = [1_000_000_000]) },
    file: 'plan',
    path: '$.legacyGuests[0]',
  },
  {
    what: 'legacy guest with one volume decision that is neither backup nor discard',
    mutate: { plan: (p) => (p.legacyGuests = [{ ctid: 953, volumes: 'keep' }]) },
    file: 'plan',
    path: '$.legacyGuests[0].volumes',
    says: /"backup" or "discard"/,
  },
  {
    what: 'legacy guest named as Proxmox would refuse',
    mutate: { plan: (p) => (p.legacyGuests[3] = { ctid: 953, name: 'old gateway' }) },
    file: 'plan',
    path: '$.legacyGuests[3].name',
  },
  {
    what: 'upstream name with a space',
    mutate: { plan: (p) => (p.gateway.upstream = 'qdrant service') },
    file: 'plan',
    path: '$.gateway.upstream',
  },
  {
    what: 'new server port out of range',
    mutate: { plan: (p) => (p.gateway.newServers = ['10.0.0.102:70000']) },
    file: 'plan',
    path: '$.gateway.newServers[0]',
    says: /HOST:PORT/,
  },
  {
    what: 'new server without a port',
    mutate: { plan: (p) => (p.gateway.newServers = ['10.0.0.102']) },
    file: 'plan',
    path: '$.gateway.newServers[0]',
  },
  {
    what: 'site file with shell metacharacters',
    mutate: { plan: (p) => (p.gateway.siteFile = '/etc/nginx/sites-enabled/x;reboot') },
    file: 'plan',
    path: '$.gateway.siteFile',
  },
  {
    what: 'backup dir with a space',
    mutate: { plan: (p) => (p.gateway.backupDir = '/var/backups/phoenix migrate') },
    file: 'plan',
    path: '$.gateway.backupDir',
  },
  {
    what: 'lock file relative',
    mutate: { plan: (p) => (p.gateway.lockFile = 'run/lock/x.lock') },
    file: 'plan',
    path: '$.gateway.lockFile',
  },
  {
    what: 'NFS path with $()',
    mutate: { vm: (c) => (vm1001(c).volumes[0].path = '/quickOS/$(reboot)/1001') },
    file: 'vm',
    path: '$.vms[1].volumes[0].path',
  },
  {
    what: 'compose source missing',
    mutate: { vm: (c) => (vm1001(c).docker_compose_files[0].source = '../persistent-storage/qdrant/nope.yml') },
    file: 'vm',
    path: '$.vms[1].docker_compose_files[0].source',
    says: /does not exist/,
  },
  {
    what: 'compose source over 256 KiB',
    mutate: { compose: (t) => t + `# ${'x'.repeat(300 * 1024)}\n` },
    file: 'vm',
    path: '$.vms[1].docker_compose_files[0].source',
    says: /limit/,
  },
  {
    what: 'compose source not UTF-8',
    mutate: { compose: (t) => Buffer.concat([Buffer.from(t), Buffer.from([0xff, 0xfe, 0x00])]) },
    file: 'vm',
    path: '$.vms[1].docker_compose_files[0].source',
    says: /UTF-8/,
  },
  {
    what: 'compose source not YAML',
    mutate: { compose: () => 'services: [\n' },
    file: 'vm',
    path: '$.vms[1].docker_compose_files[0].source',
    says: /YAML/,
  },
  {
    what: 'plan is not JSON',
    mutate: { files: (root) => fs.writeFileSync(path.join(root, 'plans/qdrant-to-dr-phoenix.json'), '{"name": ') },
    file: 'plan',
    path: '$',
    says: /not valid JSON/,
  },
  {
    what: 'VM config not UTF-8',
    mutate: {
      files: (root) =>
        fs.writeFileSync(
          path.join(root, 'examples/phoenix/etc/phoenix_vm_configs.json'),
          Buffer.from([0x7b, 0xc3, 0x28, 0x7d]),
        ),
    },
    file: 'vm',
    path: '$',
    says: /UTF-8/,
  },
  {
    what: 'LXC config over 1 MiB',
    mutate: { lxc: (c) => (c.padding = 'x'.repeat(1024 * 1024 + 1)) },
    file: 'lxc',
    path: '$',
    says: /limit/,
  },
  {
    what: 'LXC config missing',
    mutate: { plan: (p) => (p.phoenix.lxcConfigs = '../examples/phoenix/etc/nope.json') },
    file: 'plan',
    path: '$.phoenix.lxcConfigs',
    says: /does not exist/,
  },
  {
    what: 'compose file picked by an unknown destination',
    mutate: { plan: (p) => (p.portainer.composeFile = 'qdrant/compose.yaml') },
    file: 'plan',
    path: '$.portainer.composeFile',
  },
  {
    what: 'Portainer API mode without credentials',
    mutate: { plan: (p) => (p.portainer.mode = 'api') },
    file: 'plan',
    path: '$.portainer.credentials',
  },
  {
    what: 'VM to create on DHCP',
    mutate: { vm: (c) => (vm1002(c).network_config = { ip: 'dhcp' }) },
    file: 'vm',
    path: '$.vms[2].network_config.ip',
    says: /static/,
  },
  {
    what: 'public key file holding a private key',
    mutate: {
      plan: (p) => (p.cloudInit = { sshPublicKeyFile: 'id_ed25519' }),
      files: (root) =>
        fs.writeFileSync(
          path.join(root, 'plans/id_ed25519'),
          '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n',
        ),
    },
    file: 'plan',
    path: '$.cloudInit.sshPublicKeyFile',
    says: /private key/,
  },
];

describe('validate refuses broken plans and configs (exit 2, naming file and JSON path)', () => {
  test.each(cases.map((c) => [c.what, c] as const))('%s', async (_what, c) => {
    const world = makeWorld(c.mutate);
    try {
      const io = captureIo();
      const code = await runValidate({ plan: world.planPath }, io);
      expect(code).toBe(2);
      const wanted = io.lines().find((l) => l.startsWith('error  ') && l.includes(`${FILE_NAME[c.file]} ${c.path}: `));
      if (!wanted) throw new Error(`no error at ${FILE_NAME[c.file]} ${c.path}; got:\n${io.text()}`);
      expect(wanted).toMatch(/\(fix: .+\)$/);
      if (c.says) expect(wanted).toMatch(c.says);
    } finally {
      fs.rmSync(world.root, { recursive: true, force: true });
    }
  });
});
