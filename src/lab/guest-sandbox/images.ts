/**
 * What a lab guest's root looks like when it first boots: Phoenix's template 9000 (Ubuntu 24.04 cloud image +
 * qemu-guest-agent + nfs-common, nothing else), optionally with what a VM that already exists carries (VM 1001:
 * Docker, the Portainer server container, the NFS volume mounted).
 */
import fs from 'node:fs';
import path from 'node:path';

export interface GuestImage {
  /** The cloud image the template was made from. */
  base: 'ubuntu-24.04-cloud';
  /** Docker CE installed from Docker's repository and running, `user` in the docker group. */
  docker?: { user: string };
  containers?: { name: string; image: string; ports: string[] }[];
  /** NFS lines in fstab, mounted. */
  nfs?: { server: string; path: string; mountPoint: string }[];
}

/** What Ubuntu's 24.04 cloud image has installed that our scripts look at (+ Phoenix's template additions). */
const CLOUD_IMAGE_PACKAGES = [
  'bash',
  'coreutils',
  'cloud-init',
  'ca-certificates',
  'curl',
  'gnupg',
  'openssh-server',
  'sudo',
];
const TEMPLATE_PACKAGES = ['qemu-guest-agent', 'nfs-common'];
const DOCKER_PACKAGES = [
  'docker-ce',
  'docker-ce-cli',
  'containerd.io',
  'docker-buildx-plugin',
  'docker-compose-plugin',
];

const OS_RELEASE = `PRETTY_NAME="Ubuntu 24.04.1 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
VERSION="24.04.1 LTS (Noble Numbat)"
VERSION_CODENAME=noble
ID=ubuntu
ID_LIKE=debian
UBUNTU_CODENAME=noble
`;

export function buildGuestRoot(root: string, image: GuestImage): void {
  fs.rmSync(root, { recursive: true, force: true });
  const p = (...parts: string[]) => path.join(root, ...parts);
  for (const d of [
    'usr',
    'dev',
    'proc',
    'tmp',
    'run',
    'root',
    'home/phoenix_user',
    'etc/apt/sources.list.d',
    'etc/alternatives',
    'var/log',
    'var/lib/phoenix-sim/units',
    'var/lib/phoenix-sim/enabled',
    'var/lib/phoenix-sim/active',
    'var/lib/phoenix-sim/containers',
    'phoenix-sim/bin',
    'phoenix-sim/nfs',
  ])
    fs.mkdirSync(p(d), { recursive: true });
  fs.chmodSync(p('tmp'), 0o1777);
  for (const d of ['null', 'zero', 'urandom', 'random']) fs.writeFileSync(p('dev', d), '');
  // As on any Linux: a script's `< <(…)` and `/dev/stdin` go through /proc/self/fd (the guest gets its own /proc).
  for (const [link, target] of [
    ['fd', '/proc/self/fd'],
    ['stdin', '/proc/self/fd/0'],
    ['stdout', '/proc/self/fd/1'],
    ['stderr', '/proc/self/fd/2'],
  ])
    fs.symlinkSync(target, p('dev', link));
  for (const [link, target] of [
    ['bin', 'usr/bin'],
    ['sbin', 'usr/sbin'],
    ['lib', 'usr/lib'],
    ['lib64', 'usr/lib64'],
  ])
    fs.symlinkSync(target, p(link));
  // etc/alternatives stays empty: each command gets the host's bound over it (guest-command.ts), as it gets /usr.
  if (fs.existsSync('/etc/ld.so.cache')) fs.copyFileSync('/etc/ld.so.cache', p('etc/ld.so.cache'));
  fs.writeFileSync(p('etc/os-release'), OS_RELEASE);
  fs.writeFileSync(p('etc/hostname'), 'ubuntu\n');
  fs.writeFileSync(p('etc/nsswitch.conf'), 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n');
  fs.writeFileSync(
    p('etc/passwd'),
    'root:x:0:0:root:/root:/bin/bash\nphoenix_user:x:1000:1000:phoenix_user:/home/phoenix_user:/bin/bash\n',
  );
  const dockerGroup = image.docker ? [`docker:x:988:${image.docker.user}`] : [];
  fs.writeFileSync(
    p('etc/group'),
    ['root:x:0:', 'sudo:x:27:phoenix_user', 'phoenix_user:x:1000:', ...dockerGroup, ''].join('\n'),
  );
  fs.writeFileSync(
    p('etc/apt/sources.list.d/ubuntu.sources'),
    'Types: deb\nURIs: http://archive.ubuntu.com/ubuntu\nSuites: noble noble-updates\nComponents: main universe\n',
  );
  const nfs = image.nfs ?? [];
  fs.writeFileSync(
    p('etc/fstab'),
    [
      'LABEL=cloudimg-rootfs\t/\t ext4\tdiscard,commit=30,errors=remount-ro\t0 1',
      'LABEL=UEFI\t/boot/efi\tvfat\tumask=0077\t0 1',
      ...nfs.map((n) => `${n.server}:${n.path} ${n.mountPoint} nfs defaults,auto,nofail 0 0`),
      '',
    ].join('\n'),
  );
  for (const n of nfs) fs.mkdirSync(p(n.mountPoint), { recursive: true });
  fs.writeFileSync(p('var/lib/phoenix-sim/mounts'), nfs.map((n) => `${n.server}:${n.path} ${n.mountPoint}\n`).join(''));
  const packages = [...CLOUD_IMAGE_PACKAGES, ...TEMPLATE_PACKAGES, ...(image.docker ? DOCKER_PACKAGES : [])];
  fs.writeFileSync(p('var/lib/phoenix-sim/packages'), packages.map((x) => `${x}\n`).join(''));
  const units = ['qemu-guest-agent', 'cloud-init', 'ssh', ...(image.docker ? ['docker'] : [])];
  for (const u of units)
    for (const d of ['units', 'enabled', 'active']) fs.writeFileSync(p('var/lib/phoenix-sim', d, u), '');
  if (image.docker) {
    fs.mkdirSync(p('etc/apt/keyrings'), { recursive: true });
    fs.writeFileSync(
      p('etc/apt/keyrings/docker.asc'),
      '-----BEGIN PGP PUBLIC KEY BLOCK-----\n-----END PGP PUBLIC KEY BLOCK-----\n',
    );
    fs.writeFileSync(
      p('etc/apt/sources.list.d/docker.list'),
      'deb [arch=amd64 signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/ubuntu noble stable\n',
    );
  }
  for (const c of image.containers ?? [])
    fs.writeFileSync(
      p('var/lib/phoenix-sim/containers', c.name),
      `image=${c.image}\nports=${c.ports.join(' ')}\nrestart=always\nrunning=true\n`,
    );
  fs.writeFileSync(p('.phoenix-sim-image'), JSON.stringify(image));
}
