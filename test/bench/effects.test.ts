import { countEffects } from '../../src/bench/effects';
import type { LabEvent } from '../../src/lab/event-log';

const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
const clone = (s: number, newid: number, effect = true): LabEvent => ({
  time: t(s),
  kind: 'proxmox',
  method: 'POST',
  path: '/api2/json/nodes/pve/qemu/9000/clone',
  status: 200,
  newid,
  effect,
});
const del = (s: number, ctid: number): LabEvent => ({
  time: t(s),
  kind: 'proxmox',
  method: 'DELETE',
  path: `/api2/json/nodes/pve/lxc/${ctid}`,
  status: 200,
  effect: true,
});
const dump = (s: number, vmid: number): LabEvent => ({
  time: t(s),
  kind: 'proxmox',
  method: 'POST',
  path: '/api2/json/nodes/pve/vzdump',
  status: 200,
  vmid: String(vmid),
  effect: true,
});
const reload = (s: number, siteSha: string): LabEvent => ({ time: t(s), kind: 'gateway-reload', exit: 0, siteSha });

describe('countEffects', () => {
  it('a clean run: one effect per target, deletes after verification', () => {
    const c = countEffects(
      [
        clone(1, 1001),
        clone(1, 1002),
        clone(2, 1002, false),
        reload(5, 'b'),
        { time: t(6), kind: 'verification-passed' },
        dump(7, 951),
        del(8, 951),
      ],
      'a',
    );
    expect(c).toMatchObject({
      clones: { 1001: 1, 1002: 1 },
      deletes: { 951: 1 },
      backups: { 951: 1 },
      gatewayChanges: 1,
      duplicateEffects: 0,
      duplicateBackups: 0,
      deletedBeforeVerification: 0,
    });
  });

  it('counts a second effective clone, delete and gateway change, and a reload of unchanged content not at all', () => {
    const c = countEffects(
      [
        clone(1, 1001),
        clone(3, 1001),
        reload(4, 'b'),
        reload(4.5, 'b'),
        reload(5, 'c'),
        { time: t(6), kind: 'verification-passed' },
        del(7, 951),
        del(8, 951),
        dump(6.5, 951),
        dump(6.6, 951),
      ],
      'a',
    );
    expect(c.duplicateEffects).toBe(3);
    expect(c.gatewayChanges).toBe(2);
    expect(c.duplicateBackups).toBe(1);
    expect(c.problems).toHaveLength(4);
  });

  it('flags a delete before verification passed, and one with no verification at all', () => {
    expect(
      countEffects([del(1, 951), { time: t(2), kind: 'verification-passed' }], 'a').deletedBeforeVerification,
    ).toBe(1);
    expect(countEffects([del(1, 952)], 'a').deletedBeforeVerification).toBe(1);
  });
});
