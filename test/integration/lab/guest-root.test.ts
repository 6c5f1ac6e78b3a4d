/**
 * A lab guest's root, built at its first need by whichever process comes first — a spawner for a command, the lab's
 * own process for an agent file read — while the other may be building it too: neither may pull it from under the
 * other (a fleet lost 28 commands to that, each exiting 127 with /bin, /etc/fstab or /dev/null gone).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureGuestRoot } from '../../../src/lab/guest-sandbox/guest-command';
import type { GuestImage } from '../../../src/lab/guest-sandbox/images';

const IMAGE: GuestImage = {
  base: 'ubuntu-24.04-cloud',
  docker: { user: 'phoenix_user' },
  nfs: [{ server: '10.0.0.13', path: '/quickOS/vm-persistent-data/1001', mountPoint: '/persistent-storage' }],
};
const BUILT = path.join(__dirname, '..', '..', '..', 'lib', 'lab', 'guest-sandbox', 'guest-command.js');

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'guest-root-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** What a command in the guest needs from the root, read the moment the builder returns. */
function complete(root: string): boolean {
  return ['.phoenix-sim-image', 'etc/fstab', 'dev/null', 'var/lib/phoenix-sim/packages'].every((f) =>
    fs.existsSync(path.join(root, f)),
  );
}

it('processes that build the same new root at once each find it whole, and leave nothing beside it', async () => {
  const root = path.join(dir, '1001');
  // Each builder checks the root right after its own ensureGuestRoot returns, many times over, on fresh roots: with a
  // build in place, one builder's removal met the other's just-finished root.
  const script = `
    const fs = require('fs');
    const { ensureGuestRoot } = require(${JSON.stringify(BUILT)});
    const image = ${JSON.stringify(IMAGE)};
    const root = process.argv[1];
    let broken = 0;
    for (let round = 0; round < 40; round++) {
      const r = root + '-' + round;
      ensureGuestRoot(r, image);
      for (const f of ['.phoenix-sim-image', 'etc/fstab', 'dev/null', 'var/lib/phoenix-sim/packages'])
        if (!fs.existsSync(r + '/' + f)) broken++;
    }
    process.stdout.write(String(broken));
  `;
  const builders = Array.from(
    { length: 4 },
    () =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const child = spawn(process.execPath, ['-e', script, root], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d));
        child.stderr.on('data', (d: Buffer) => (err += d));
        child.on('close', (code) => resolve({ code, out, err }));
      }),
  );
  const results = await Promise.all(builders);
  for (const r of results) expect(r).toEqual({ code: 0, out: '0', err: '' });
  const entries = fs.readdirSync(dir);
  expect(entries.filter((e) => e.includes('.building-'))).toEqual([]);
  expect(entries).toHaveLength(40);
  for (const e of entries) expect(complete(path.join(dir, e))).toBe(true);
});

it('a root a killed build left without its marker is built anew; a whole one is kept as it is', () => {
  const root = path.join(dir, '1002');
  fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc', 'half-written'), '');
  ensureGuestRoot(root, IMAGE);
  expect(complete(root)).toBe(true);
  expect(fs.existsSync(path.join(root, 'etc', 'half-written'))).toBe(false);

  fs.writeFileSync(path.join(root, 'root', 'made-by-a-command'), 'kept');
  ensureGuestRoot(root, IMAGE);
  expect(fs.readFileSync(path.join(root, 'root', 'made-by-a-command'), 'utf8')).toBe('kept');
});
