/**
 * `validate` shows every problem in one pass and says the right thing about each: a schema error does not hide the
 * cross-checks, duplicate JSON keys are refused by path, hints fit their field, compose content is hashed as sent
 * and scanned for secrets, and warnings are ranked (normal-but-notable ones summarised once).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { runValidate } from '../../../src/cli/validate';
import { ExitCode } from '../../../src/cli/io';
import { loadAndResolvePlan } from '../../../src/config';
import { captureIo, makeWorld } from './plan-world';

const env = { PHOENIX_SSH_PUBLIC_KEY_FILE: undefined };

async function validate(planPath: string, extra: { strict?: boolean } = {}) {
  const io = captureIo();
  const code = await runValidate({ plan: planPath, ...extra }, io);
  return { code, text: io.text(), lines: io.lines() };
}

describe('validate: every problem at once', () => {
  it('one schema error and two cross-check errors: all three printed, exit 2', async () => {
    const w = makeWorld({
      plan: (p) => {
        p.proxmox.apiUrl = 'http://10.0.0.13:8006'; // schema: not https
        p.legacyGuests.push(101); // cross-check: the gateway listed as a legacy guest
        p.vms.push(9000); // cross-check: the template listed as a VM to create
      },
    });
    const r = await validate(w.planPath);
    expect(r.code).toBe(ExitCode.badInput);
    expect(r.text).toMatch(/error {2}\S+ \$\.proxmox\.apiUrl: not an https URL of the Proxmox API/);
    expect(r.text).toMatch(/error {2}\S+ \$\.legacyGuests\[4\]: legacy guest 101 is the gateway/);
    expect(r.text).toMatch(/error {2}\S+ \$\.vms\[2\]: VM 9000 is also the template 9000/);
    expect(r.text).toMatch(/3 errors: nothing was changed/);
  });

  it('a wrong type says what it must be and how to write it (not zod\'s "expected number, received string")', () => {
    const w = makeWorld({ plan: (p) => (p.gateway.ctid = '101') });
    const r = loadAndResolvePlan(w.planPath, { env });
    expect(r.ok).toBe(false);
    const problems = r.ok ? [] : r.problems;
    expect(problems.find((p) => p.path === '$.gateway.ctid')).toMatchObject({
      message: 'must be a number, not a string',
      hint: expect.stringMatching(/without quotes/),
    });
    // the partial plan's cross-checks do not invent a second, confusing error at the same place
    expect(problems.filter((p) => p.path === '$.gateway.ctid')).toHaveLength(1);
  });
});

describe('validate: duplicate JSON keys', () => {
  it('two "legacyGuests" keys: exit 2, naming the key, its path and line', async () => {
    const w = makeWorld();
    const text = fs.readFileSync(w.planPath, 'utf8').replace(/\n}\s*$/, ',\n  "legacyGuests": [950]\n}\n');
    fs.writeFileSync(w.planPath, text);
    const r = await validate(w.planPath);
    expect(r.code).toBe(ExitCode.badInput);
    expect(r.text).toMatch(
      /error {2}\S+ \$\.legacyGuests: "legacyGuests" appears twice in the same object \(line \d+\)/,
    );
  });

  it('a repeated key deep inside (vms[1].name in the VM config) is named by its full path', async () => {
    const w = makeWorld();
    const vm = fs.readFileSync(w.vmPath, 'utf8');
    const vmConfig = JSON.parse(vm) as { vms: { name: string }[] };
    const name = JSON.stringify(vmConfig.vms[1].name);
    const at = vm.indexOf(`"name": ${name}`);
    fs.writeFileSync(w.vmPath, `${vm.slice(0, at)}"name": "Other", ${vm.slice(at)}`);
    const r = await validate(w.planPath);
    expect(r.code).toBe(ExitCode.badInput);
    expect(r.text).toMatch(/phoenix_vm_configs\.json \$\.vms\[1\]\.name: "name" appears twice/);
  });
});

describe('validate: hints fit their field', () => {
  it('".." in gateway.siteFile is about path segments, not spaces', () => {
    const r = loadAndResolvePlan(makeWorld({ plan: (p) => (p.gateway.siteFile = '/etc/nginx/../x') }).planPath, {
      env,
    });
    const p = r.ok ? undefined : r.problems.find((x) => x.path === '$.gateway.siteFile');
    expect(p?.hint).toMatch(/"\.\." segments/);
    expect(p?.hint).not.toMatch(/spaces/);
  });

  it('tokenId with "=secret" (a UUID) says to keep only the id, not "use {env}" for the tokenId', () => {
    const r = loadAndResolvePlan(
      makeWorld({ plan: (p) => (p.proxmox.tokenId = 'root@pam!x=0f0f0f0f-1111-2222-3333-444444444444') }).planPath,
      { env },
    );
    const p = r.ok ? undefined : r.problems.find((x) => x.path === '$.proxmox.tokenId');
    expect(p?.hint).toMatch(/write only USER@REALM!TOKENID here/);
  });

  it("a newUrl off the plan's VMs is pointed at the Qdrant VM (1002), not Portainer's (1001)", () => {
    const r = loadAndResolvePlan(makeWorld({ plan: (p) => (p.qdrant.newUrl = 'http://10.0.0.99:6333') }).planPath, {
      env,
    });
    const p = (r.ok ? r.warnings : r.problems).find((x) => x.path === '$.qdrant.newUrl');
    expect(p?.hint).toContain('10.0.0.102 (VM 1002');
    expect(p?.hint).not.toContain('10.0.0.101');
  });
});

describe('compose files', () => {
  it('with a byte-order mark: valid, and hashed as sent (the content without the BOM), so Phase 2 can push it', () => {
    const w = makeWorld({ compose: (text) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]) });
    const r = loadAndResolvePlan(w.planPath, { env });
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    const [compose] = r.plan.composeFiles;
    expect(compose.content.charCodeAt(0)).not.toBe(0xfeff);
    expect(compose.sha256).toBe(createHash('sha256').update(compose.content, 'utf8').digest('hex'));
  });

  it('a literal API key in the environment is a warning naming the variable; validate --strict refuses it', async () => {
    const w = makeWorld({
      compose: (text) =>
        text.replace('    environment:\n', '    environment:\n      QDRANT__SERVICE__API_KEY: s3cr3t-value\n'),
    });
    const relaxed = await validate(w.planPath);
    expect(relaxed.code).toBe(ExitCode.ok);
    expect(relaxed.text).toMatch(/warning .*sets QDRANT__SERVICE__API_KEY to a literal value/);
    expect(relaxed.text).not.toContain('s3cr3t-value');
    const strict = await validate(w.planPath, { strict: true });
    expect(strict.code).toBe(ExitCode.badInput);
    expect(strict.text).toMatch(/refused by --strict/);
  });

  it('${VAR} substitution is fine', () => {
    const w = makeWorld({
      compose: (text) =>
        text.replace('    environment:\n', '    environment:\n      QDRANT__SERVICE__API_KEY: ${QDRANT_KEY}\n'),
    });
    const r = loadAndResolvePlan(w.planPath, { env });
    expect((r.ok ? r.warnings : r.problems).filter((p) => /literal value/.test(p.message))).toEqual([]);
  });
});

describe('warnings are ranked', () => {
  it('shared boot orders are summarised once, after the warning that matters (an NFS path naming another vmid)', async () => {
    const w = makeWorld({
      lxc: (c) => {
        for (const ct of Object.values(c.lxc_configs) as { boot_order?: number }[]) ct.boot_order = 1;
      },
      vm: (c) => {
        const v = c.vms.find((x: { vmid: number }) => x.vmid === 1002);
        v.volumes[0].path = v.volumes[0].path.replace('1002', '1000');
      },
    });
    const r = await validate(w.planPath, { strict: true });
    const nfs = r.lines.findIndex((l) => /NFS path .* names vmid 1000/.test(l));
    const notes = r.lines.filter((l) => /^note {2}\d+× guests share a boot order/.test(l));
    expect(nfs).toBeGreaterThanOrEqual(0);
    expect(notes).toHaveLength(1);
    expect(r.lines.indexOf(notes[0])).toBeGreaterThan(nfs);
    expect(r.lines.filter((l) => /boot order \d+ is also used by/.test(l))).toEqual([]);
    // --strict refuses the NFS warning, not the normal-but-notable boot orders
    expect(r.code).toBe(ExitCode.badInput);
  });
});
